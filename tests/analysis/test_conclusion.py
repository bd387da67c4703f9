from __future__ import annotations

from bot.analysis.conclusion import decide
from bot.findings import Category, Finding, Severity


def finding(severity: Severity) -> Finding:
    return Finding(
        path="a.py",
        start_line=1,
        end_line=1,
        severity=severity,
        category=Category.BUG,
        title="t",
        message="m",
        source="static:x",
    )


def test_failure_when_a_finding_reaches_fail_on_even_if_partial() -> None:
    verdict = decide(
        [finding(Severity.LOW), finding(Severity.CRITICAL)],
        fail_on=Severity.HIGH,
        partial_reason="LLM budget spent",
    )
    assert verdict.conclusion == "failure"
    assert "worst: critical" in verdict.title and "LLM budget spent" in verdict.title


def test_neutral_when_partial_and_nothing_blocks() -> None:
    verdict = decide(
        [finding(Severity.MEDIUM)], fail_on=Severity.HIGH, partial_reason="provider down"
    )
    assert verdict.conclusion == "neutral" and "provider down" in verdict.title


def test_neutral_when_skipped() -> None:
    assert decide([], fail_on=Severity.HIGH, skipped_reason="draft").conclusion == "neutral"


def test_success_with_findings_below_threshold_and_without_any() -> None:
    assert decide([finding(Severity.MEDIUM)], fail_on=Severity.HIGH).conclusion == "success"
    assert decide([], fail_on=Severity.HIGH).title == "No problems found"


def test_fail_on_info_fails_on_anything() -> None:
    assert decide([finding(Severity.INFO)], fail_on=Severity.INFO).conclusion == "failure"
