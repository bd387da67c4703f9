"""JSON and Markdown renderings."""

from __future__ import annotations

from bot.findings import Severity
from bot.reports import Report, render_json, render_markdown


def test_json_round_trips_to_the_same_report(report: Report) -> None:
    again = Report.model_validate_json(render_json(report))
    assert again == report


def test_counts_leave_out_dismissed_findings(report: Report) -> None:
    assert report.counts == {Severity.CRITICAL: 1, Severity.HIGH: 1, Severity.MEDIUM: 0,
                             Severity.LOW: 1, Severity.INFO: 0}
    assert [f.id for f in report.visible] == [1, 2, 3]


def test_findings_sorted_worst_first_and_grouped_by_file(report: Report) -> None:
    assert [f.severity.value for f in report.findings] == ["critical", "high", "medium", "low"]
    assert [path for path, _ in report.by_file()] == ["app/db.py", "app/views.py", "app/util.py"]


def test_markdown_has_summary_findings_and_safe_fences(report: Report) -> None:
    text = render_markdown(report)
    assert text.startswith("# auditbot report: acme/shop\n")
    assert "| critical | 1 |" in text
    assert "| medium | 0 |" in text
    assert "> **Partial review:** 2 files over the size limit were not reviewed" in text
    assert "## `app/db.py`" in text
    assert "### L12-L13: SQL built from request input (critical, security, CWE-89)" in text
    # A quote holding a triple backtick is fenced with four, so it cannot break out.
    assert "````\n```inner fence```\n````" in text
    assert "(medium, bug, false_positive)" in text
    assert "- `static/big.min.js`: generated" in text
