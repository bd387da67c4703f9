"""JSON and Markdown renderings of a report."""

from __future__ import annotations

import re

from bot.findings import FindingStatus, Severity
from bot.reports.model import Report, ReportFinding


def render_json(report: Report) -> str:
    """The report as JSON: the `Report` model's own schema."""
    return report.model_dump_json(indent=2)


def render_markdown(report: Report) -> str:
    """A Markdown report: summary, counts, then findings grouped by file."""
    task = report.task
    lines = [f"# auditbot report: {_inline(task.project or task.id)}", ""]
    facts = [("Task", f"`{task.id}` ({task.kind}, {task.status})")]
    if task.pr_number is not None:
        facts.append(("Pull request", f"#{task.pr_number}"))
    if task.head_sha:
        facts.append(("Commit", f"`{task.head_sha[:12]}`"))
    if task.head_ref:
        facts.append(("Ref", f"`{_inline(task.head_ref)}`"))
    if task.conclusion:
        facts.append(("Conclusion", task.conclusion))
    facts.append(("Model", _inline(task.model) if task.model else "offline analyzers only"))
    facts.append(("Tokens", f"{task.input_tokens} in, {task.output_tokens} out"))
    facts.append(("Cost", f"${task.cost_usd:.4f}"))
    lines += [f"- **{name}:** {value}" for name, value in facts]
    if task.partial_reason:
        lines += ["", f"> **Partial review:** {_inline(task.partial_reason)}"]
    lines += ["", "| Severity | Findings |", "| --- | ---: |"]
    lines += [f"| {sev.value} | {report.counts.get(sev, 0)} |" for sev in Severity]
    lines.append("")
    if not report.findings:
        lines += ["No findings.", ""]
    for path, findings in report.by_file():
        lines += [f"## `{_inline(path)}`", ""]
        for finding in findings:
            lines += _finding(finding)
    if report.skipped:
        lines += ["## Skipped files", ""]
        lines += [f"- `{_inline(s.path)}`: {_inline(s.reason)}" for s in report.skipped]
        lines.append("")
    return "\n".join(lines)


def _finding(finding: ReportFinding) -> list[str]:
    where = f"L{finding.start_line}"
    if finding.end_line != finding.start_line:
        where += f"-L{finding.end_line}"
    tags = [finding.severity.value, finding.category.value]
    if finding.cwe:
        tags.append(finding.cwe)
    if finding.status is not FindingStatus.OPEN:
        tags.append(finding.status.value)
    out = [f"### {where}: {_inline(finding.title)} ({', '.join(tags)})", "", finding.message, ""]
    if finding.quote:
        out += [*_fence(finding.quote), ""]
    if finding.suggestion:
        out += ["Suggested change:", "", *_fence(finding.suggestion), ""]
    return out


def _fence(code: str) -> list[str]:
    # A fence longer than any backtick run inside, so the code cannot close it early.
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, code.rstrip("\n"), fence]


def _inline(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|")
