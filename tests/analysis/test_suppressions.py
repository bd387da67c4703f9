"""Inline suppressions: auditbot: ignore[rule-id] lowers a finding to info, with its reason."""

from __future__ import annotations

from bot.analysis.suppressions import apply_suppressions
from bot.findings import Category, Finding, Severity


def _finding(line: int, rule: str = "python/code-eval") -> Finding:
    return Finding(path="a.py", start_line=line, end_line=line, severity=Severity.HIGH,
                   category=Category.SECURITY, title="t", message="m", source=f"static:{rule}",
                   rule_id=rule)


def test_a_named_rule_on_the_same_line_is_suppressed_with_its_reason() -> None:
    lines = ["x = eval(y)  # auditbot: ignore[python/code-eval]: y is a constant table"]
    [out] = apply_suppressions([_finding(1)], lines)
    assert out.severity == Severity.INFO
    assert "y is a constant table" in out.message
    assert "was high" in out.message


def test_the_line_above_counts_and_a_bare_ignore_covers_every_rule() -> None:
    lines = ["# auditbot: ignore", "x = eval(y)"]
    assert apply_suppressions([_finding(2)], lines)[0].severity == Severity.INFO


def test_another_rule_id_or_a_distant_comment_suppresses_nothing() -> None:
    lines = ["x = eval(y)  # auditbot: ignore[python/shell-dynamic]", "", "z = eval(w)"]
    out = apply_suppressions([_finding(1), _finding(3)], lines)
    assert [f.severity for f in out] == [Severity.HIGH, Severity.HIGH]


def test_several_ids_and_merged_sources_match_any_member() -> None:
    merged = _finding(1).model_copy(update={"source": "static:bandit/B307+static:python/code-eval",
                                            "rule_id": "B307"})
    lines = ["eval(y)  // auditbot: ignore[secret/jwt, python/code-eval]"]
    assert apply_suppressions([merged], lines)[0].severity == Severity.INFO
