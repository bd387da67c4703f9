"""The rule tables, checked against every rule's own positive and negative examples."""

from __future__ import annotations

import pytest

from bot.analysis.static import (
    Example,
    Rule,
    _expand,
    all_rules,
    analyze_file,
    languages_for,
    load_languages,
    rule_findings,
)
from bot.errors import ConfigError
from bot.findings import Severity


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
    assert names == {
        "python", "javascript", "go", "java", "php", "ruby", "c", "shell", "sql",
        "github-actions", "gitlab-ci", "kubernetes",
    }


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


WORKFLOW = """name: PR
on:
  pull_request_target:
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: make test
"""


def test_pull_request_target_checkout_is_flagged_on_the_added_ref_line() -> None:
    findings = analyze_file(".github/workflows/pr.yml", WORKFLOW, lines=[10])
    assert [(f.rule_id, f.start_line, f.severity) for f in findings] == [
        ("github-actions/pull-request-target-checkout", 10, Severity.CRITICAL)
    ]
    # The same step under the pull_request event runs without secrets: nothing to say.
    safe = WORKFLOW.replace("pull_request_target", "pull_request")
    assert analyze_file(".github/workflows/pr.yml", safe) == []


def test_language_tables_are_chosen_by_path_and_content() -> None:
    names = lambda path, text="": [lang.name for lang in languages_for(path, text)]  # noqa: E731
    assert names("src/app.tsx") == ["javascript"]
    assert names("deep/dir/.github/workflows/ci.yml") == ["github-actions"]
    assert names("ci/.gitlab-ci.yml") == ["gitlab-ci"]
    assert names("deploy/api.yaml", "apiVersion: v1\nkind: Pod\n") == ["kubernetes"]
    assert names("docker-compose.yml", "services:\n  web: {}\n") == []
    assert names("Dockerfile") == ["shell"]


def test_multiline_findings_span_their_lines_and_respect_the_line_filter() -> None:
    code = (
        "from fastapi.middleware.cors import CORSMiddleware\n"
        "app.add_middleware(\n"
        "    CORSMiddleware,\n"
        '    allow_origins=["*"],\n'
        "    allow_credentials=True,\n"
        ")\n"
    )
    findings = [f for f in rule_findings("api.py", code) if f.rule_id == "python/permissive-cors"]
    assert [(f.start_line, f.end_line) for f in findings] == [(4, 5)]
    assert rule_findings("api.py", code, lines=[1, 2]) == []
    assert [f.start_line for f in rule_findings("api.py", code, lines=[5])] == [4]


def test_quotes_are_masked_in_rule_findings() -> None:
    key = "sk_live_" + "Mn7Bv5Cx3Zl1Kj9Hg7Fd5Sa3"
    code = f'requests.post(url, verify=False, headers={{"Authorization": "{key}"}})\n'
    findings = analyze_file("pay.py", code)
    assert any("static:python/tls-verify-disabled" in f.source for f in findings)
    assert all(key not in f.model_dump_json() for f in findings)


def test_a_rule_table_with_an_unknown_macro_is_refused() -> None:
    with pytest.raises(ConfigError, match="NOPE"):
        _expand("a<<NOPE>>b", {"SQL": "x"}, "rules/test.yml")
    assert _expand("a<<SQL>>b", {"SQL": "x|y"}, "rules/test.yml") == "a(?:x|y)b"


def test_over_long_lines_are_left_to_the_format_detectors() -> None:
    short = "result = eval(request.args['q'])\n"
    padded = "result = eval(request.args['q'])" + " " * 3000 + "# minified\n"
    assert any(f.rule_id == "python/code-eval" for f in rule_findings("a.py", short))
    assert rule_findings("a.py", padded) == []
    key = "AKIA" + "Z7Q2MXLP4KT8WZ1C"
    assert analyze_file("bundle.js", f"var k='{key}';" + "x" * 5000 + "\n")


CRAFTED = ["secret=", "token=", "password=", "select ", "eval(", "://a:", "//", "${", "#{",
           "'", '"', "key", "sk-", "AKIA", "function tokenx(){", "=> '", "$_GET[", "curl "]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("token", CRAFTED)
def test_crafted_lines_do_not_make_the_scan_crawl(token: str) -> None:
    text = "\n".join([token * (1900 // len(token))] * 5) + "\n"
    for path in ("src/x.ts", "src/X.java", "x.php", "x.rb", ".env", "x.sh", "x.c", "x.go"):
        findings = analyze_file(path, text)
        # However many matches a line holds, each rule reports it once.
        per_line = [(f.start_line, f.source) for f in findings]
        assert len(per_line) == len(set(per_line))
