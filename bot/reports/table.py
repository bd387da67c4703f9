"""A plain-text table of a report for terminals and CI logs (`auditbot review`)."""

from __future__ import annotations

from bot.reports.model import Report

WIDTH_TITLE = 60


def render_table(report: Report) -> str:
    task = report.task
    rows = [("SEVERITY", "LOCATION", "TITLE", "SOURCE")]
    for finding in report.visible:
        where = f"{finding.path}:{finding.start_line}"
        if finding.end_line != finding.start_line:
            where += f"-{finding.end_line}"
        title = finding.title if len(finding.title) <= WIDTH_TITLE else finding.title[:57] + "..."
        rows.append((finding.severity.value, where, title, finding.source))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip()
        for row in rows
    ]
    if len(rows) == 1:
        lines = ["No findings."]
    counts = ", ".join(f"{n} {s.value}" for s, n in report.counts.items() if n)
    lines.append("")
    lines.append(f"{len(report.visible)} finding(s){': ' + counts if counts else ''}")
    if report.skipped:
        lines.append(f"{len(report.skipped)} file(s) not reviewed:")
        lines.extend(f"  {s.path}: {s.reason}" for s in report.skipped[:50])
    if task.model:
        lines.append(
            f"model {task.model}: {task.input_tokens} input / {task.output_tokens} output "
            f"tokens, ${task.cost_usd:.4f}"
        )
    else:
        lines.append("offline analyzers only (no LLM provider configured)")
    if task.partial_reason:
        lines.append(f"partial audit: {task.partial_reason}")
    lines.append(f"conclusion: {task.conclusion}  (task {task.id})")
    return "\n".join(lines) + "\n"
