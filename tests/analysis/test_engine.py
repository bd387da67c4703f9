"""The engine's rules against their own examples, in one Semgrep run, and the runner's edges."""

from __future__ import annotations

from collections import defaultdict

import pytest

from bot.analysis.engine import (
    EngineRule,
    builtin_rules,
    find_semgrep,
    parse_rules,
    run_engine,
)
from bot.errors import ConfigError
from tests.support.rules import NO_PRINT_RULE

pytestmark = pytest.mark.skipif(find_semgrep() is None, reason="semgrep is installed by setup")

_SUFFIX = {"python": "py", "javascript": "js", "typescript": "ts", "go": "go", "java": "java",
           "ruby": "rb", "php": "php", "bash": "sh", "c": "c", "cpp": "cpp"}


def _example_files() -> tuple[dict[str, str], dict[str, tuple[str, bool]]]:
    files: dict[str, str] = {}
    expected: dict[str, tuple[str, bool]] = {}
    for rule in builtin_rules()[1]:
        for positive, examples in ((True, rule.positive), (False, rule.negative)):
            for n, (code, path) in enumerate(examples):
                stem = f"{rule.id.replace('/', '_')}_{'pos' if positive else 'neg'}{n}"
                name = f"{stem}/{path}" if path else f"{stem}.{_SUFFIX[rule.languages[0]]}"
                files[name] = code
                expected[name] = (rule.id, positive)
    return files, expected


@pytest.fixture(scope="module")
def example_results() -> tuple[dict[str, tuple[str, bool]], dict[str, set[str]]]:
    files, expected = _example_files()
    result = run_engine(files)
    assert result.ran and result.errors == []
    found: dict[str, set[str]] = defaultdict(set)
    for finding in result.findings:
        found[finding.path].add(finding.rule_id or "")
    return expected, found


def test_every_rule_finds_its_positive_examples_and_not_its_negative_ones(
    example_results: tuple[dict[str, tuple[str, bool]], dict[str, set[str]]],
) -> None:
    expected, found = example_results
    wrong = [f"{name}: {rule_id} {'missed' if positive else 'fired'}"
             for name, (rule_id, positive) in expected.items()
             if (rule_id in found[name]) != positive]
    assert len(expected) > 150
    assert wrong == []


def test_every_rule_carries_what_a_finding_needs() -> None:
    for rule in builtin_rules()[1]:
        assert rule.title and rule.fix and rule.message, rule.id
        assert rule.cwe and rule.cwe.startswith("CWE-"), rule.id
        assert rule.positive and rule.negative, rule.id


def test_a_finding_names_rule_severity_and_lines() -> None:
    code = ("from flask import request\nimport os\n\n"
            "def f():\n    os.system('ls ' + request.args['d'])\n")
    result = run_engine({"app/views.py": code})
    taint = [f for f in result.findings if f.rule_id == "python/taint-shell"]
    assert len(taint) == 1
    assert (taint[0].start_line, taint[0].severity.value, taint[0].cwe) == (5, "high", "CWE-78")
    assert taint[0].source == "static:python/taint-shell"
    assert "shlex.quote" in taint[0].message


def test_paths_outside_the_scan_folder_are_never_written() -> None:
    result = run_engine({"../escape.py": "eval(x)\n", "/etc/abs.py": "eval(x)\n",
                         "ok/a.py": "def f(x):\n    return eval(x)\n"})
    assert {f.path for f in result.findings} == {"ok/a.py"}


def test_files_under_tests_and_node_modules_are_scanned_too() -> None:
    code = "def f(x):\n    return eval(x)\n"
    result = run_engine({"tests/test_a.py": code, "node_modules/m/a.py": code})
    assert {f.path for f in result.findings} == {"tests/test_a.py", "node_modules/m/a.py"}


def test_disabled_rules_do_not_run() -> None:
    code = "def f(x):\n    return eval(x)\n"
    assert run_engine({"a.py": code}, disabled=frozenset({"python/code-eval"})).findings == []


def test_a_missing_engine_is_reported_and_nothing_is_claimed() -> None:
    missing = run_engine({"a.py": "eval(x)\n"}, binary="/nonexistent/semgrep")
    assert (missing.ran, missing.findings, missing.errors) == (False, [], [])


CUSTOM = NO_PRINT_RULE


def test_custom_rules_run_beside_the_builtin_ones() -> None:
    raw, rules = parse_rules(CUSTOM, ".auditbot/rules/acme.yml")
    result = run_engine({"svc.py": "print('hi')\n"}, extra_rules=list(zip(raw, rules, strict=True)))
    assert [(f.rule_id, f.severity.value) for f in result.findings] == [("acme/no-print", "medium")]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("rules: [", "not valid YAML"),
        ("rules: {}", "list under 'rules'"),
        ("rules:\n  - languages: [python]\n", "needs an id"),
        ("rules:\n  - id: a.b\n    pattern: x\n", "lacks metadata"),
        (CUSTOM.replace("severity: medium", "severity: dire"), "acme.no-print"),
        (CUSTOM.replace("negative: [", "other: ["), "examples"),
    ],
    ids=["yaml", "shape", "id", "metadata", "severity", "examples"],
)
def test_bad_rule_files_are_refused_with_the_reason(text: str, complaint: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_rules(text, ".auditbot/rules/acme.yml")
    assert complaint in str(refused.value)
    assert ".auditbot/rules/acme.yml" in str(refused.value)


NEEDS_LOGGER = CUSTOM.replace("      examples:", "      needs: '^import logging'\n      examples:")


def test_a_rule_runs_only_on_the_files_holding_what_it_needs() -> None:
    raw, rules = parse_rules(NEEDS_LOGGER, ".auditbot/rules/acme.yml")
    assert rules[0].needs is not None
    code = "print('hi')\n"
    custom = list(zip(raw, rules, strict=True))
    result = run_engine(
        {"plain.py": code, "svc[1]/logged.py": "import logging\n" + code, "b*?.py": code,
         "a\\b.py": "import logging\n" + code},
        extra_rules=custom,
    )
    assert sorted(f.path for f in result.findings) == ["a\\b.py", "svc[1]/logged.py"]
    # Needed nowhere: the rule is left out of the run, not run on nothing.
    assert run_engine({"plain.py": code}, extra_rules=custom).findings == []


def test_a_needs_that_is_no_regex_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"acme\.no-print"):
        parse_rules(NEEDS_LOGGER.replace("^import logging", "(unclosed"), "acme.yml")


def test_a_rule_semgrep_cannot_parse_comes_back_as_an_error() -> None:
    bad = CUSTOM.replace("pattern: print(...)", "pattern: 'print(('")
    raw, rules = parse_rules(bad, "x.yml")
    result = run_engine({"svc.py": "print('hi')\n"}, extra_rules=list(zip(raw, rules, strict=True)))
    assert result.errors


def test_engine_rule_ids_are_unique_and_slash_separated() -> None:
    ids = [rule.id for rule in builtin_rules()[1]]
    assert len(ids) == len(set(ids))
    assert all(isinstance(rule, EngineRule) and "/" in rule.id for rule in builtin_rules()[1])
