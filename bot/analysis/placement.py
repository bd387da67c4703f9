"""Where each finding goes: an inline comment on commentable lines, the summary, or only
the report. Decided by our rules and the diff alone, never by what the model asked for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from bot.diff.lines import place_range
from bot.diff.parse import FileDiff
from bot.findings import Finding, Severity

Placement = Literal["inline", "summary", "report"]


@dataclass(frozen=True)
class PlacedFinding:
    """A finding and where it is shown; ``line``/``start_line`` are the clipped range."""

    finding: Finding
    placement: Placement
    reason: str = ""  # why it is not inline ("below min_severity", "outside the diff", ...)
    start_line: int | None = None
    line: int | None = None

    @property
    def fingerprint(self) -> str:
        return self.finding.fingerprint or ""


def place_findings(
    findings: Iterable[Finding],
    diffs: Mapping[str, FileDiff],
    *,
    min_severity: Severity,
    max_comments: int,
) -> list[PlacedFinding]:
    """Inline when at or above ``min_severity`` and on commentable lines, at most
    ``max_comments`` of them, highest severity first; the rest to the summary or report."""
    ordered = sorted(
        findings,
        key=lambda f: (-f.severity.rank, -f.confidence, f.path, f.start_line, f.title),
    )
    placed: list[PlacedFinding] = []
    inline_count = 0
    for finding in ordered:
        if not finding.severity.at_least(min_severity):
            placed.append(PlacedFinding(finding, "report", "below min_severity"))
            continue
        diff = diffs.get(finding.path)
        span = (
            place_range(diff, finding.start_line, finding.end_line, finding.side) if diff else None
        )
        if span is None:
            placed.append(PlacedFinding(finding, "summary", "outside the diff"))
            continue
        if inline_count >= max_comments:
            placed.append(PlacedFinding(finding, "summary", "over max_comments"))
            continue
        start, end = span
        if (start, end) != (finding.start_line, finding.end_line) and finding.suggestion:
            # A suggestion replaces exactly the finding's lines; on a clipped range it would
            # replace different code, so it is withdrawn.
            finding = finding.model_copy(update={"suggestion": None})
        inline_count += 1
        placed.append(
            PlacedFinding(
                finding, "inline", "", start_line=start if start != end else None, line=end
            )
        )
    return placed


def mark(placed: PlacedFinding, placement: Placement, reason: str) -> PlacedFinding:
    return replace(placed, placement=placement, reason=reason)
