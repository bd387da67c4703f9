"""``.auditbot.yml``: defaults, validation errors with line and key, never an exception."""

from __future__ import annotations

import pytest

from bot.analysis.repo_config import RepoConfig, load_repo_config
from bot.findings import Severity


def test_defaults_when_absent_or_empty() -> None:
    for text in (None, "", "# nothing\n"):
        config, errors = load_repo_config(text)
        assert errors == []
        assert config == RepoConfig()
    review = RepoConfig().review
    assert (review.fail_on, review.min_severity, review.max_comments) == (
        Severity.HIGH,
        Severity.LOW,
        30,
    )


def test_full_valid_file() -> None:
    text = """
enabled: true
paths:
  include: ["src/**", "*.go"]
  exclude: ["src/generated/"]
path_instructions:
  "src/api/**": "Check authorization on every handler."
review:
  min_severity: medium
  fail_on: critical
  max_comments: 10
  language: zh
  drafts: true
  ignore_authors: ["dependabot[bot]", "renovate[bot]"]
llm:
  model: gpt-4o-mini
"""
    config, errors = load_repo_config(text, allowed_models=["gpt-4o-mini"])
    assert errors == []
    assert config.paths.include == ["src/**", "*.go"]
    assert config.review.min_severity is Severity.MEDIUM
    assert config.review.fail_on is Severity.CRITICAL
    assert config.review.language == "zh" and config.review.drafts
    assert config.llm.model == "gpt-4o-mini"
    assert config.instructions_for("src/api/users.py") == ["Check authorization on every handler."]
    assert config.instructions_for("src/db.py") == []


def test_invalid_keys_fall_back_one_by_one_with_line_numbers() -> None:
    text = (
        "review:\n  min_severity: urgent\n  max_comments: 12\n  colour: red\npaths:\n  include: 5\n"
    )
    config, errors = load_repo_config(text)
    assert config.review.max_comments == 12  # the valid sibling is kept
    assert config.review.min_severity is Severity.LOW
    assert config.paths.include == []
    assert any(e.startswith("line 2: review.min_severity:") for e in errors), errors
    assert any(e.startswith("line 4: review.colour: unknown key") for e in errors), errors
    assert any(e.startswith("line 6: paths.include:") for e in errors), errors


def test_repository_cannot_choose_provider_or_unlisted_model() -> None:
    text = "llm:\n  provider: openai\n  base_url: http://evil\n  model: gpt-4o\n"
    config, errors = load_repo_config(text, allowed_models=["gpt-4o-mini"])
    assert config.llm.model is None
    assert any("line 2: llm.provider: a repository cannot set" in e for e in errors), errors
    assert any("line 3: llm.base_url" in e for e in errors), errors
    assert any(e.startswith("line 4: llm.model: 'gpt-4o' is not among") for e in errors), errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("review: [unclosed\n", "not valid YAML"),
        ("- a\n- b\n", "must be a mapping"),
        ("enabled: maybe\n", "line 1: enabled:"),
        ("review:\n  fail_on: never\n", None),
        ("review:\n  max_comments: -1\n", "line 2: review.max_comments:"),
        ("paths:\n  exclude: ['a[']\n", None),
        ("a: &x [*x]\n", None),
        ("--- 1\n--- 2\n", "not valid YAML"),
    ],
    ids=["bad-yaml", "list", "bad-bool", "never", "negative", "odd-glob", "alias", "two-docs"],
)
def test_bad_files_never_raise(text: str, expected: str | None) -> None:
    config, errors = load_repo_config(text)
    assert isinstance(config, RepoConfig)
    if expected is not None:
        assert any(expected in e for e in errors), errors
    if text.startswith("review:\n  fail_on: never"):
        assert config.review.fail_on is None and errors == []


def test_path_instructions_list_form() -> None:
    text = (
        "path_instructions:\n"
        "  - path: 'migrations/**'\n"
        "    instructions: Check that every migration is reversible.\n"
    )
    config, errors = load_repo_config(text)
    assert errors == []
    assert config.instructions_for("migrations/0002.py") == [
        "Check that every migration is reversible."
    ]


def test_file_filter_from_config() -> None:
    config, _ = load_repo_config("paths:\n  include: ['src/']\n  exclude: ['src/gen/']\n")
    ff = config.file_filter()
    assert ff.skip_reason("src/app.py") is None
    assert ff.skip_reason("src/gen/x.py") == "excluded by paths.exclude (src/gen/)"
    assert ff.skip_reason("docs/a.md") == "not in paths.include"


def test_rules_section_switches_off_reweights_and_opts_into_custom_rules() -> None:
    text = ("rules:\n  disable: [python/insecure-random]\n  severity:\n"
            "    python/debug-enabled: low\n  custom: true\n")
    config, errors = load_repo_config(text)
    assert errors == []
    assert config.rules.disable == ["python/insecure-random"]
    assert config.rules.severity == {"python/debug-enabled": Severity.LOW}
    assert config.rules.custom is True


def test_a_bad_rule_severity_is_reported_and_the_rest_kept() -> None:
    config, errors = load_repo_config("rules:\n  severity:\n    python/x: dire\n  custom: true\n")
    assert config.rules.severity == {}
    assert any("rules.severity" in e for e in errors)
