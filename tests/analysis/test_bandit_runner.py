"""Bandit through its API, mapped to Findings."""

from __future__ import annotations

import logging

import pytest

from bot.analysis.bandit_runner import bandit_findings, is_test_path, run_bandit
from bot.analysis.bandit_wording import WORDING, title_and_message
from bot.findings import Category, Severity

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


def test_comment_wording_is_a_title_and_a_fix_not_bandits_log_line() -> None:
    finding = next(f for f in bandit_findings("tools/run.py", SHELL) if f.rule_id == "bandit/B602")
    assert finding.title == "Shell command run with shell=True"
    assert finding.message.startswith("Subprocess call with shell=True. Fix: Pass a list")
    assert "security issue" not in finding.message
    assert finding.message.endswith("(Bandit B602)")


def test_every_check_of_the_installed_bandit_has_its_wording() -> None:
    """A newer Bandit with a new check fails here, so its comments get a title and a fix."""
    from bandit.core.extension_loader import MANAGER

    checks = set(MANAGER.plugins_by_id) | set(MANAGER.blacklist_by_id)
    assert len(checks) > 60
    assert sorted(checks - set(WORDING)) == []


def test_an_unknown_check_keeps_its_own_text_without_the_log_phrasing() -> None:
    assert title_and_message("B999", "foo call identified, security issue.") == (
        "Foo call",
        "Foo call. (Bandit B999)",
    )
    assert title_and_message("B998", "") == ("Bandit B998", "(Bandit B998)")
    title, message = title_and_message("B301", "Pickle is unsafe.")
    assert (title, message) == (
        "Unpickling data",
        "Pickle is unsafe. Fix: Unpickle only data this program wrote and signed; exchange data"
        " as JSON. (Bandit B301)",
    )


def test_assert_is_noted_in_code_but_not_in_tests() -> None:
    code = "def check(x):\n    assert x > 0\n"
    assert "bandit/B101" in {f.rule_id for f in bandit_findings("app/checks.py", code)}
    for path in ("tests/test_checks.py", "pkg/tests/helpers.py", "app/checks_test.py",
                 "conftest.py", "test_checks.py"):
        assert "bandit/B101" not in {f.rule_id for f in bandit_findings(path, code)}, path
    # Other checks still run on test files.
    shell = bandit_findings("tests/test_run.py", SHELL)
    assert "bandit/B602" in {f.rule_id for f in shell}
    assert not is_test_path("app/contest.py") and not is_test_path("latest/app.py")
