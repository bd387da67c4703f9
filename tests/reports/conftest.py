"""A report with a spread of findings, built as the CLI builds one: from in-memory results."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.findings import Category, Finding, FindingStatus, Severity
from bot.reports import Report, ReportFinding, SkippedFile, TaskInfo


def sample_report() -> Report:
    task = TaskInfo(
        id="0123456789abcdef0123456789abcdef", kind="review", status="succeeded",
        trigger="webhook", project_id=1, project="acme/shop", project_kind="github",
        pr_number=42, base_ref="main", head_ref="feature/login", base_sha="1" * 40,
        head_sha="2" * 40, model="openai/gpt-4o", input_tokens=1200, output_tokens=300,
        cached_tokens=100, cost_usd=0.0123, conclusion="failure",
        partial_reason="2 files over the size limit were not reviewed",
        created_at=datetime(2026, 11, 1, 10, 0, tzinfo=UTC),
        started_at=datetime(2026, 11, 1, 10, 0, 5, tzinfo=UTC),
        finished_at=datetime(2026, 11, 1, 10, 1, 5, tzinfo=UTC),
    )
    base = Finding(
        path="app/db.py", start_line=12, end_line=13, severity=Severity.CRITICAL,
        category=Category.SECURITY, title="SQL built from request input",
        message="The query concatenates `user_id` from the request.", cwe="89",
        source="llm:openai/gpt-4o", quote='cur.execute("SELECT * FROM u WHERE id=" + user_id)',
        suggestion='cur.execute("SELECT * FROM u WHERE id=%s", (user_id,))',
        fingerprint="f" * 32, confidence=0.95,
    )
    findings = [
        ReportFinding.of(base, id=1, placement="inline"),
        ReportFinding.of(base.model_copy(update={
            "path": "app/views.py", "start_line": 5, "end_line": 5, "severity": Severity.HIGH,
            "title": "<script>alert('x')</script> in a template", "cwe": "CWE-79",
            "message": "Unescaped output.", "quote": "return f'<b>{name}</b>'",
            "suggestion": None, "fingerprint": "e" * 32}), id=2),
        ReportFinding.of(base.model_copy(update={
            "path": "app/db.py", "start_line": 40, "end_line": 40, "severity": Severity.LOW,
            "category": Category.STYLE, "title": "Broad except", "cwe": None,
            "source": "static:B110", "rule_id": "B110", "message": "Swallows errors.",
            "quote": "except Exception:\n    pass", "suggestion": None, "fingerprint": None}),
            id=3),
        ReportFinding.of(base.model_copy(update={
            "path": "app/util.py", "start_line": 1, "end_line": 1, "severity": Severity.MEDIUM,
            "category": Category.BUG, "title": "Dismissed one", "cwe": None,
            "quote": "```inner fence```", "fingerprint": "d" * 32}), id=4,
            status=FindingStatus.FALSE_POSITIVE, status_reason="test data"),
    ]
    skipped = [SkippedFile(path="static/big.min.js", reason="generated")]
    return Report.build(task, findings, skipped)


@pytest.fixture
def report() -> Report:
    return sample_report()
