"""The rule tables, checked against every rule's own positive and negative examples."""

from __future__ import annotations

import pytest

from bot.analysis.findings import Severity
from bot.analysis.static import (
    Example,
    Rule,
    all_rules,
    analyze_file,
    languages_for,
    load_languages,
    rule_findings,
)


def _path(rule: Rule, example: Example) -> str:
    if example.path:
        return example.path
    language = next(lang for lang in load_languages() if lang.name == rule.language)
    return language.example_path


def _cases(kind: str) -> list[tuple[Rule, Example]]:
    cases = []
    for rule in all_rules():
        examples = rule.positive if kind == "positive" else rule.negative
        cases.extend((rule, example) for example in examples)
    return cases


def _ids(kind: str) -> list[str]:
    return [f"{rule.id}-{n}" for n, (rule, _) in enumerate(_cases(kind))]


@pytest.mark.parametrize(("rule", "example"), _cases("positive"), ids=_ids("positive"))
def test_rule_matches_its_positive_example(rule: Rule, example: Example) -> None:
    findings = rule_findings(_path(rule, example), example.code)
    assert f"static:{rule.id}" in {f.source for f in findings}, example.code


@pytest.mark.parametrize(("rule", "example"), _cases("negative"), ids=_ids("negative"))
def test_rule_ignores_its_negative_example(rule: Rule, example: Example) -> None:
    findings = rule_findings(_path(rule, example), example.code)
    assert f"static:{rule.id}" not in {f.source for f in findings}, example.code


def test_every_language_in_the_issue_has_a_table() -> None:
    names = {language.name for language in load_languages()}
    assert {"python"} <= names


def test_rule_ids_are_namespaced_by_language() -> None:
    for rule in all_rules():
        assert rule.id.startswith(f"{rule.language}/"), rule.id


def test_findings_only_on_the_given_lines() -> None:
    code = "import os\nos.system(cmd)\nx = 1\nos.system(other)\n"
    everything = rule_findings("a.py", code)
    assert [f.start_line for f in everything] == [2, 4]
    only_added = rule_findings("a.py", code, lines=[4])
    assert [(f.start_line, f.end_line) for f in only_added] == [(4, 4)]


def test_comment_lines_do_not_match() -> None:
    assert rule_findings("a.py", "# os.system(cmd) was removed\n") == []


def test_analyze_file_merges_rule_bandit_and_secret_findings() -> None:
    code = 'import subprocess\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n'
    findings = analyze_file("tools/run.py", code)
    shell = [f for f in findings if f.start_line == 4]
    assert len(shell) == 1
    assert "static:python/shell-injection" in shell[0].source
    assert "static:bandit/B602" in shell[0].source
    assert shell[0].fingerprint is not None


def test_analyze_file_reports_secrets_as_critical() -> None:
    key = "AKIA" + "Z7Q2MXLP4KT8WZ1C"
    findings = analyze_file("deploy/settings.py", f'AWS_KEY = "{key}"\n')
    secrets = [f for f in findings if f.cwe == "CWE-798"]
    assert secrets
    assert all(f.severity is Severity.CRITICAL for f in secrets)
    assert all(key not in (f.message + f.title + (f.quote or "")) for f in findings)


def test_unknown_file_types_get_only_the_secret_scan() -> None:
    assert languages_for("notes/readme.txt", "eval(x)") == []
    assert analyze_file("notes/readme.txt", "eval(x)\n") == []
