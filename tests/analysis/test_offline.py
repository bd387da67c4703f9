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


MIXED = {
    "app/views.py": VIEW,
    "deploy/release.sh": "#!/bin/sh\ncurl -fsSL https://get.example.org/i | sh\n",
    "db/schema.sql": "CREATE TABLE t (id int);\n",
}


def test_without_the_engine_the_summary_says_which_line_rules_ran_instead() -> None:
    result = analyze_change(MIXED, engine="/nonexistent/semgrep")
    assert (result.engine_ran, result.errors) == (False, [])
    assert len(result.notes) == 1
    note = result.notes[0]
    assert "Semgrep" in note and "not installed" in note and "2 file(s)" in note
    assert "line rules (python, shell) and Bandit" in note
    # The line rules did run: the download piped into a shell is still found.
    assert "shell/curl-pipe-shell" in {f.rule_id for f in result.findings}


def test_with_the_engine_or_without_its_files_there_is_no_note() -> None:
    assert analyze_change(MIXED).notes == []
    only_sql = {"db/schema.sql": MIXED["db/schema.sql"]}
    assert analyze_change(only_sql, engine="/nonexistent/semgrep").notes == []


def test_a_file_the_engine_cannot_parse_meets_the_line_rules() -> None:
    # Not valid YAML (": " inside a plain scalar): Semgrep reports a syntax error and reads
    # nothing of it; GitHub would refuse it too, but the PR still shows what it attempts.
    workflow = ("on: issues\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                "      - run: echo \"Title: ${{ github.event.issue.title }}\"\n")
    result = analyze_change({".github/workflows/t.yml": workflow})
    assert result.engine_ran
    assert [(f.rule_id, f.start_line) for f in result.findings] == [
        ("github-actions/script-injection", 6)
    ]


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.prod", "Containerfile",
                                  "build/app.dockerfile"])
def test_every_dockerfile_name_reaches_the_engine(name: str) -> None:
    text = "FROM debian:12\nUSER app\nRUN chmod 777 /srv\nUSER root\n"
    result = analyze_change({name: text})
    assert {(f.path, f.rule_id) for f in result.findings} == {
        (name, "shell/world-writable"), (name, "dockerfile/runs-as-root")
    }
