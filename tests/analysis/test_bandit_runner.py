"""Bandit through its API, mapped to Findings."""

from __future__ import annotations

import logging

import pytest

from bot.analysis.bandit_runner import bandit_findings, run_bandit
from bot.analysis.findings import Category, Severity

SHELL = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
PICKLE = "import pickle\n\n\ndef load(blob):\n    return pickle.loads(blob)\n"


def test_issue_maps_to_a_finding_on_the_exact_line() -> None:
    findings = [f for f in bandit_findings("tools/run.py", SHELL) if f.rule_id == "bandit/B602"]
    assert len(findings) == 1
    finding = findings[0]
    assert (finding.start_line, finding.end_line) == (5, 5)
    assert finding.severity is Severity.HIGH
    assert finding.category is Category.SECURITY
    assert finding.cwe == "CWE-78"
    assert finding.source == "static:bandit/B602"
    assert finding.quote == "    return subprocess.call(cmd, shell=True)"


def test_one_batch_serves_several_files_and_line_filters() -> None:
    results = run_bandit(
        {"a/run.py": SHELL, "b/load.py": PICKLE, "c/empty.py": ""},
        {"a/run.py": [1, 2, 3], "b/load.py": None},
    )
    assert set(results) == {"a/run.py", "b/load.py", "c/empty.py"}
    assert [f.rule_id for f in results["a/run.py"] if f.start_line == 5] == []
    assert "bandit/B301" in {f.rule_id for f in results["b/load.py"]}
    assert results["c/empty.py"] == []


def test_a_file_that_does_not_parse_gives_no_findings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.analysis.bandit_runner")
    assert bandit_findings("broken.py", "def f(:\n    pass\n") == []
    assert "broken.py" in caplog.text


def test_nosec_written_by_the_author_does_not_silence_the_audit() -> None:
    code = "import subprocess\nsubprocess.call(cmd, shell=True)  # nosec\n"
    assert "bandit/B602" in {f.rule_id for f in bandit_findings("x.py", code)}


def test_low_severity_hygiene_notes_become_info() -> None:
    findings = bandit_findings("x.py", "import subprocess\n")
    assert findings
    assert {f.severity for f in findings} == {Severity.INFO}


def test_hardcoded_password_text_never_repeats_the_value() -> None:
    value = "Pl4net-Xr7q!vault"
    findings = bandit_findings("cfg.py", f'password = "{value}"\n')
    assert any(f.rule_id == "bandit/B105" for f in findings)
    for finding in findings:
        assert value not in finding.model_dump_json()
