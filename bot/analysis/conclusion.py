"""The check's conclusion rule. It depends only on the findings, the repository's
configuration and what happened to the audit, never on anything the diff says."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bot.findings import Finding, Severity

Conclusion = Literal["success", "failure", "neutral"]


@dataclass(frozen=True)
class Verdict:
    conclusion: Conclusion
    title: str


def decide(
    open_findings: Iterable[Finding],
    *,
    fail_on: Severity | None,
    partial_reason: str | None = None,
    skipped_reason: str | None = None,
) -> Verdict:
    """`failure` whenever an open finding reaches ``fail_on`` (also when the audit was
    partial), else `neutral` with the reason when skipped or partial, else `success`."""
    findings = list(open_findings)
    # fail_on None ("never" in .auditbot.yml): the check never fails on findings.
    blocking = [f for f in findings if fail_on is not None and f.severity.at_least(fail_on)]
    if blocking:
        worst = max(blocking, key=lambda f: f.severity.rank).severity
        noun = "finding" if len(blocking) == 1 else "findings"
        assert fail_on is not None
        title = f"{len(blocking)} {noun} at or above {fail_on.value} (worst: {worst.value})"
        if partial_reason:
            title += f"; partial audit: {partial_reason}"
        return Verdict("failure", title)
    if skipped_reason:
        return Verdict("neutral", f"Audit skipped: {skipped_reason}")
    if partial_reason:
        return Verdict("neutral", f"Partial audit: {partial_reason}")
    if findings:
        noun = "finding" if len(findings) == 1 else "findings"
        limit = f"below {fail_on.value}" if fail_on is not None else "(fail_on: never)"
        return Verdict("success", f"{len(findings)} {noun} {limit}")
    return Verdict("success", "No problems found")
