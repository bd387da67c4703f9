"""The text a pull request shows: inline comment bodies, the summary comment, the check's
summary. Model text arrives here already sanitised."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.analysis.placement import PlacedFinding
from bot.findings import Finding, Severity

ICONS = {
    Severity.CRITICAL: "🛑",
    Severity.HIGH: "🔴",
    Severity.MEDIUM: "🟠",
    Severity.LOW: "🟡",
    Severity.INFO: "🔵",
}
TOP_IN_SUMMARY = 10
# GitHub's limit for a comment or review body is 65,536 characters; leave room for markers.
MAX_BODY = 60_000


@dataclass(frozen=True)
class SummaryFacts:
    """Everything the summary states, gathered by the pipeline."""

    placed: Sequence[PlacedFinding]
    skipped: Sequence[tuple[str, str]] = ()
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    cache_hits: int = 0
    chunks_total: int = 0
    chunks_failed: Sequence[tuple[str, str]] = ()
    dropped: dict[str, int] = field(default_factory=dict)
    partial_reason: str | None = None
    config_errors: Sequence[str] = ()
    truncated: str | None = None
    report_url: str | None = None
    verdict_title: str = ""
    notes: Sequence[str] = ()  # one line each, e.g. why code scanning got nothing


def severity_label(finding: Finding) -> str:
    parts = [f"{ICONS[finding.severity]} **{finding.severity.value.capitalize()}**"]
    parts.append(finding.category.value)
    if finding.cwe:
        parts.append(finding.cwe)
    return " · ".join(parts)


def comment_body(finding: Finding) -> str:
    lines = [f"{severity_label(finding)} — **{finding.title}**", "", finding.message]
    if finding.suggestion is not None:
        lines += ["", "```suggestion", finding.suggestion, "```"]
    lines += ["", f"<sub>{_source_label(finding.source)}</sub>"]
    return _cap("\n".join(lines))


def _source_label(source: str) -> str:
    labels = []
    for part in source.split("+"):
        kind, _, name = part.partition(":")
        labels.append(f"rule `{name}`" if kind == "static" else f"model `{name}`")
    return "auditbot · " + ", ".join(labels)


def summary_body(facts: SummaryFacts) -> str:
    open_findings = [p for p in facts.placed]
    counts = Counter(p.finding.severity for p in open_findings)
    lines = ["## auditbot review", ""]
    if facts.verdict_title:
        lines += [f"**{facts.verdict_title}**", ""]
    if open_findings:
        lines.append("| " + " | ".join(f"{ICONS[s]} {s.value}" for s in Severity) + " |")
        lines.append("|" + "---|" * len(Severity))
        lines.append("| " + " | ".join(str(counts.get(s, 0)) for s in Severity) + " |")
        lines.append("")
        top = [p for p in open_findings][:TOP_IN_SUMMARY]
        lines.append("### Top findings")
        for p in top:
            f = p.finding
            where = f"`{f.path}:{f.start_line}`" + (
                f"–{f.end_line}" if f.end_line != f.start_line else ""
            )
            note = f" _(not inline: {p.reason})_" if p.placement != "inline" else ""
            lines.append(f"- {ICONS[f.severity]} {where} **{f.title}**{note}")
        if len(open_findings) > TOP_IN_SUMMARY:
            lines.append(f"- … and {len(open_findings) - TOP_IN_SUMMARY} more in the report")
        lines.append("")
        not_inline = [p for p in open_findings if p.placement == "summary"]
        if not_inline:
            lines.append(
                "<details><summary>Findings outside the diff or over the comment limit"
                f" ({len(not_inline)})</summary>"
            )
            lines.append("")
            for p in not_inline:
                f = p.finding
                lines.append(
                    f"- {ICONS[f.severity]} `{f.path}:{f.start_line}` **{f.title}** — {f.message}"
                )
            lines += ["", "</details>", ""]
    else:
        lines += ["No problems found in the reviewed changes.", ""]
    if facts.partial_reason:
        lines += [f"> ⚠️ Partial audit: {facts.partial_reason}", ""]
    if facts.truncated:
        lines += [f"> ⚠️ {facts.truncated}", ""]
    for note in facts.notes:
        lines += [f"> ℹ️ {note}", ""]
    if facts.chunks_failed:
        lines.append(
            f"<details><summary>{len(facts.chunks_failed)} part(s) of the change could "
            "not be analysed by the model</summary>"
        )
        lines.append("")
        lines += [f"- {reason}" for _, reason in facts.chunks_failed]
        lines += ["", "</details>", ""]
    if facts.config_errors:
        lines.append("**`.auditbot.yml` problems (defaults used):**")
        lines += [f"- {error}" for error in facts.config_errors]
        lines.append("")
    if facts.skipped:
        lines.append(f"<details><summary>Files not reviewed ({len(facts.skipped)})</summary>")
        lines.append("")
        lines += [f"- `{path}`: {reason}" for path, reason in facts.skipped[:200]]
        if len(facts.skipped) > 200:
            lines.append(f"- … and {len(facts.skipped) - 200} more")
        lines += ["", "</details>", ""]
    dropped = {k: v for k, v in facts.dropped.items() if v}
    if dropped:
        lines.append(
            "Model findings discarded: "
            + ", ".join(f"{count} {reason}" for reason, count in sorted(dropped.items()))
            + "."
        )
        lines.append("")
    lines.append(_usage_line(facts))
    if facts.report_url:
        lines += ["", f"[Full report]({facts.report_url})"]
    return _cap("\n".join(lines))


def _usage_line(facts: SummaryFacts) -> str:
    if not facts.model:
        return "<sub>Offline analyzers only (no LLM provider configured).</sub>"
    return (
        f"<sub>Model `{facts.model}` · {facts.chunks_total} chunk(s), {facts.cache_hits} from "
        f"cache · {facts.input_tokens:,} input / {facts.output_tokens:,} output tokens "
        f"({facts.cached_tokens:,} cached) · ${facts.cost_usd:.4f}</sub>"
    )


def _cap(text: str) -> str:
    if len(text) <= MAX_BODY:
        return text
    return text[: MAX_BODY - 80] + "\n\n… (truncated; the full text is in the report)"
