"""The offline stage over a change: whole files analysed, findings on changed lines, the
repository's rule settings, suppressions, and fingerprints that outlive a rule."""

from __future__ import annotations

import pytest

from bot.analysis.engine import find_semgrep, parse_rules
from bot.analysis.offline import RuleSettings, analyze_change
from bot.findings import Severity

pytestmark = pytest.mark.skipif(find_semgrep() is None, reason="semgrep is installed by setup")

VIEW = """from flask import request
import subprocess


def ping():
    host = request.args.get("host", "")
    note = "unchanged"
    subprocess.run(f"ping -c 1 {host}", shell=True)
    return note
"""


def test_a_source_on_an_unchanged_line_still_taints_the_changed_sink() -> None:
    result = analyze_change({"app/views.py": VIEW}, {"app/views.py": {8}})
    assert result.engine_ran
    taint = [f for f in result.findings if "python/taint-shell" in f.source]
    assert [(f.start_line, f.severity) for f in taint] == [(8, Severity.HIGH)]
    assert taint[0].quote and "subprocess.run" in taint[0].quote
    assert taint[0].fingerprint


def test_findings_off_the_changed_lines_are_not_reported() -> None:
    result = analyze_change({"app/views.py": VIEW}, {"app/views.py": {7}})
    assert result.findings == []


def test_files_without_changed_lines_are_left_out() -> None:
    assert analyze_change({"app/views.py": VIEW}, {}).findings == []


def test_rules_switched_off_or_reweighted_by_the_repository() -> None:
    shell = {"python/taint-shell", "python/shell-dynamic"}
    off = RuleSettings(disabled=frozenset(shell))
    assert [f.rule_id for f in analyze_change({"v.py": VIEW}, settings=off).findings] == [
        "python/subprocess-note"]
    lowered = RuleSettings(severity=dict.fromkeys(shell, Severity.LOW))
    found = analyze_change({"v.py": VIEW}, settings=lowered).findings
    assert {f.severity for f in found if f.start_line == 8} == {Severity.LOW}


def test_an_inline_suppression_lowers_the_finding_to_info() -> None:
    code = VIEW.replace('shell=True)', 'shell=True)  # auditbot: ignore[python/taint-shell]')
    code = code.replace("import subprocess", "import subprocess  # noqa")
    found = analyze_change({"v.py": code}).findings
    assert found and all(f.severity == Severity.INFO for f in found)


REPLACEMENT = """
rules:
  - id: acme.eval-anything
    languages: [python]
    severity: ERROR
    message: eval of a variable.
    pattern: eval($X)
    metadata:
      severity: high
      cwe: CWE-94
      title: eval() on a variable
      fix: Do not.
      examples:
        positive: ["eval(x)\\n"]
        negative: ["eval\\n"]
"""


def test_a_dismissal_survives_replacing_the_rule_that_found_it() -> None:
    code = "def run(expr):\n    return eval(expr)\n"
    before = analyze_change({"calc.py": code}).findings
    raw, rules = parse_rules(REPLACEMENT, "acme.yml")
    replaced = RuleSettings(disabled=frozenset({"python/code-eval"}),
                            custom=tuple(zip(raw, rules, strict=True)))
    after = analyze_change({"calc.py": code}, settings=replaced).findings
    assert [f.source for f in before] == ["static:python/code-eval"]
    assert [f.source for f in after] == ["static:acme/eval-anything"]
    assert before[0].fingerprint == after[0].fingerprint


def test_without_the_engine_the_line_rules_and_bandit_still_run() -> None:
    from bot.analysis.static import analyze_file

    findings = analyze_file("v.py", VIEW, engine_ran=False)
    assert any(f.source.startswith("static:bandit/") for f in findings)
    assert not any(f.source.startswith("static:bandit/")
                   for f in analyze_file("v.py", VIEW, engine_ran=True))
