"""Inline suppressions: ``auditbot: ignore[rule-id]`` in a comment, with an optional reason.

Written like Semgrep's ``nosemgrep`` and Bandit's ``nosec``: on the finding's first line or
the line just above it, naming one or more rule ids (``ignore[python/code-eval, secret/jwt]``)
or none (``auditbot: ignore``: every rule on that line). The comment is part of the change, so
the pull request's author can write it: a suppressed finding is not dropped but lowered to
``info``, which keeps it out of the inline comments and the check's conclusion while the report
still lists it with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.findings import Finding, Severity

_IGNORE = re.compile(
    r"auditbot:\s*ignore(?:\[(?P<ids>[\w./\-,\s]{1,400})\])?(?:\s*[:\-]\s*(?P<reason>[^\n]{0,200}))?",
    re.IGNORECASE,
)


def _ignored_ids(line: str) -> tuple[frozenset[str] | None, str] | None:
    """None when the line has no suppression; else (ids or None for all, reason)."""
    match = _IGNORE.search(line)
    if match is None:
        return None
    ids = match.group("ids")
    named = frozenset(part.strip() for part in ids.split(",") if part.strip()) if ids else None
    reason = (match.group("reason") or "").strip().rstrip("*/-> ").strip()
    return named, reason


def apply_suppressions(findings: Sequence[Finding], lines: Sequence[str]) -> list[Finding]:
    """The findings, those suppressed in the code lowered to info with the reason said.
    ``lines`` is the file (index 0 is line 1)."""
    result: list[Finding] = []
    for finding in findings:
        rule_ids = {part.removeprefix("static:") for part in finding.source.split("+")}
        if finding.rule_id:
            rule_ids.add(finding.rule_id)
        hit = None
        for number in (finding.start_line, finding.start_line - 1):
            if 1 <= number <= len(lines) and "auditbot" in lines[number - 1].lower():
                found = _ignored_ids(lines[number - 1])
                if found is not None and (found[0] is None or found[0] & rule_ids):
                    hit = found
                    break
        if hit is None or finding.severity == Severity.INFO:
            result.append(finding)
            continue
        reason = f" Reason given: {hit[1]}" if hit[1] else ""
        result.append(finding.model_copy(update={
            "severity": Severity.INFO,
            "message": f"{finding.message} (Suppressed in the code by an auditbot: ignore "
                       f"comment; was {finding.severity.value}.{reason})",
        }))
    return result
