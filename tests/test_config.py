"""Settings: defaults, provider choice, and every bad setting ends with exit 2 and one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings, normalise_database_url
from bot.errors import ConfigError
from tests.support.processes import base_env

AUDITBOT = [sys.executable, "-m", "bot"]


def test_defaults_run_on_one_machine() -> None:
    settings = load_settings({}, env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///./auditbot.db"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.port == 3000
    assert settings.github_api_url == "https://api.github.com"
    assert settings.chosen_provider() is None
    assert not settings.github_enabled and not settings.gitlab_enabled


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=4000\nLOG_LEVEL=DEBUG\n")
    settings = load_settings({"PORT": "5000"}, env_file=env_file)
    assert settings.port == 5000
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
    ],
)
def test_database_url_spellings(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({}, None),
        ({"DEEPSEEK_API_KEY": "k"}, "deepseek"),
        ({"OPENAI_API_KEY": "k", "GEMINI_API_KEY": "k"}, "gemini"),
        ({"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"}, "openai"),
        ({"ANTHROPIC_API_KEY": "k", "LLM_PROVIDER": "ollama"}, "ollama"),
    ],
    ids=["none", "one-key", "several-with-gemini", "several-without-gemini", "explicit"],
)
def test_provider_choice(keys: dict[str, str], expected: str | None) -> None:
    assert load_settings(keys, env_file=None).chosen_provider() == expected


def test_llm_api_key_applies_to_the_chosen_provider() -> None:
    settings = load_settings({"LLM_PROVIDER": "qwen", "LLM_API_KEY": "secret-1"}, env_file=None)
    key = settings.provider_key("qwen")
    assert key is not None and key.get_secret_value() == "secret-1"
    assert settings.provider_key("openai") is None


def test_private_key_escaped_newlines(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "APP_ID": "1",
            "PRIVATE_KEY": "-----BEGIN-----\\nabc\\n-----END-----",
            "WEBHOOK_SECRET": "s",
        },
        env_file=None,
    )
    assert settings.github_private_key() == "-----BEGIN-----\nabc\n-----END-----"
    key_file = tmp_path / "key.pem"
    key_file.write_text("PEM")
    settings = load_settings(
        {"APP_ID": "1", "PRIVATE_KEY_PATH": str(key_file), "WEBHOOK_SECRET": "s"}, env_file=None
    )
    assert settings.github_private_key() == "PEM"


BAD_SETTINGS = [
    ({"APP_ID": "12", "WEBHOOK_SECRET": "s"}, "PRIVATE_KEY"),
    (
        {"APP_ID": "12", "PRIVATE_KEY_PATH": "/nonexistent/key.pem", "WEBHOOK_SECRET": "s"},
        "PRIVATE_KEY_PATH",
    ),
    ({"APP_ID": "12", "PRIVATE_KEY": "pem"}, "WEBHOOK_SECRET"),
    ({"GITLAB_TOKEN": "glpat-x"}, "GITLAB_WEBHOOK_SECRET"),
    ({"DATABASE_URL": "not a url at all"}, "DATABASE_URL"),
    ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
    ({"LLM_PROVIDER": "skynet"}, "LLM_PROVIDER"),
    ({"PORT": "eighty"}, "PORT"),
    ({"LLM_FALLBACKS": "openai"}, "LLM_FALLBACKS"),
    ({"APP_ID": "abc"}, "APP_ID"),
]
BAD_IDS = [
    "app-id-without-key",
    "key-path-missing",
    "app-id-without-secret",
    "gitlab-without-secret",
    "db-unparsable",
    "db-unsupported",
    "unknown-provider",
    "port-not-int",
    "fallback-shape",
    "app-id-not-int",
]


@pytest.mark.parametrize(("env", "variable"), BAD_SETTINGS, ids=BAD_IDS)
def test_bad_setting_raises_config_error_naming_the_variable(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env, env_file=None)
    assert caught.value.variable == variable


@pytest.mark.parametrize(("env", "variable"), BAD_SETTINGS, ids=BAD_IDS)
def test_bad_setting_exits_2_with_one_line(
    env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    clean = base_env({})
    result = subprocess.run(
        [*AUDITBOT, "migrate"],
        env={**clean, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


def test_serve_refuses_without_jwt_secret(tmp_path: Path) -> None:
    clean = base_env({})
    result = subprocess.run(
        [*AUDITBOT, "serve"], env=clean, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "JWT_SECRET" in result.stderr and "--dev" in result.stderr
