"""Settings: defaults, provider choice, and every bad setting ends with exit 2 and one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import Settings, load_settings, normalise_database_url
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


# Bad settings beyond the examples: each would otherwise surface later as a
# traceback (REDIS_URL, a keyless provider in the worker's start-up), a silent failure
# (SMTP_URL, a stray LLM_API_KEY) or a weak token (JWT_SECRET).
MORE_BAD_SETTINGS = [
    ({"REDIS_URL": "not-a-url"}, "REDIS_URL"),
    ({"REDIS_URL": "http://127.0.0.1:6379/0"}, "REDIS_URL"),
    ({"REDIS_URL": "redis://127.0.0.1:6379/zero"}, "REDIS_URL"),
    ({"REDIS_URL": "redis://127.0.0.1:port/0"}, "REDIS_URL"),
    ({"PUBLIC_URL": "audit.example.com"}, "PUBLIC_URL"),
    ({"GITHUB_API_URL": "ftp://ghe.example.com"}, "GITHUB_API_URL"),
    ({"GITLAB_URL": "https://"}, "GITLAB_URL"),
    ({"SMTP_URL": "mail.example.com"}, "SMTP_URL"),
    ({"JWT_SECRET": "short"}, "JWT_SECRET"),
    ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
    ({"LLM_PROVIDER": "openai"}, "OPENAI_API_KEY"),
    ({"LLM_PROVIDER": "deepseek", "OPENAI_API_KEY": "sk-other"}, "DEEPSEEK_API_KEY"),
    ({"LLM_PROVIDER": "openai_compatible"}, "LLM_BASE_URL"),
    ({"LLM_API_KEY": "sk-for-whom"}, "LLM_PROVIDER"),
    ({"PRIVATE_KEY_PATH": "/"}, "PRIVATE_KEY_PATH"),
]
MORE_BAD_IDS = [
    "redis-unparsable",
    "redis-http",
    "redis-db-not-number",
    "redis-port-not-number",
    "public-url-no-scheme",
    "github-api-url-ftp",
    "gitlab-url-no-host",
    "smtp-no-scheme",
    "jwt-secret-short",
    "log-level-unknown",
    "provider-without-key",
    "provider-with-another-key",
    "compatible-without-base-url",
    "api-key-without-provider",
    "key-path-directory",
]


@pytest.mark.parametrize(
    ("env", "variable"), BAD_SETTINGS + MORE_BAD_SETTINGS, ids=BAD_IDS + MORE_BAD_IDS
)
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



@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting leaks in from the shell or a `.env`, for CLI runs inside this process."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize(("env", "variable"), MORE_BAD_SETTINGS, ids=MORE_BAD_IDS)
def test_more_bad_settings_end_the_cli_with_exit_2_and_one_line(
    env: dict[str, str], variable: str
) -> None:
    # In-process (CliRunner) to keep the suite fast; the subprocess test above proves the
    # same path (settings_or_exit) leaves no traceback.
    result = CliRunner().invoke(main, ["migrate"], env=env)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("auditbot: invalid setting ") and variable in lines[0]


def test_a_bad_url_is_named_without_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"REDIS_URL": "http://:hunter2-pw@127.0.0.1:6379/0"}, env_file=None)
    assert "hunter2-pw" not in str(caught.value)
    assert "http://:***@127.0.0.1:6379/0" in str(caught.value)


@pytest.mark.parametrize(
    ("given", "level"),
    [
        ("debug", "DEBUG"),
        ("Info", "INFO"),
        ("warn", "WARNING"),
        ("trace", "DEBUG"),
        ("fatal", "ERROR"),
    ],
)
def test_log_level_accepts_any_case_and_probots_names(given: str, level: str) -> None:
    assert load_settings({"LOG_LEVEL": given}, env_file=None).log_level == level


def test_good_urls_and_providers_are_accepted() -> None:
    settings = load_settings(
        {
            "REDIS_URL": "rediss://:pw@cache.internal:6380/3",
            "PUBLIC_URL": "https://audit.example.com",
            "SMTP_URL": "smtps://bot:pw@mail.example.com",
            "LLM_PROVIDER": "openai_compatible",
            "LLM_BASE_URL": "http://127.0.0.1:8000/v1",
            "JWT_SECRET": "j" * 32,
        },
        env_file=None,
    )
    assert settings.chosen_provider() == "openai_compatible"
    assert load_settings({"LLM_PROVIDER": "ollama"}, env_file=None).chosen_provider() == "ollama"
    assert load_settings({"REDIS_URL": "unix:///run/redis.sock"}, env_file=None).redis_url


def test_secret_values_cover_keys_files_and_passwords_inside_urls(tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text("-----BEGIN KEY-----\nsecret-pem-body\n-----END KEY-----\n")
    settings = load_settings(
        {
            "APP_ID": "7",
            "PRIVATE_KEY_PATH": str(key_file),
            "WEBHOOK_SECRET": "whsec-123456",
            "DATABASE_URL": "postgresql://bot:db%40pass-99@db.internal/auditbot",
            "REDIS_URL": "redis://:redis-pass-77@cache.internal:6379/0",
            "SMTP_URL": "smtp+starttls://bot:smtp-pass-55@mail.example.com:587",
            "OPENAI_API_KEY": "sk-openai-0001",
        },
        env_file=None,
    )
    values = settings.secret_values()
    for secret in (
        "whsec-123456",
        "db@pass-99",
        "db%40pass-99",
        "redis-pass-77",
        "smtp-pass-55",
        "sk-openai-0001",
    ):
        assert secret in values
    assert any("secret-pem-body" in value for value in values)


def test_serve_refuses_without_jwt_secret(tmp_path: Path) -> None:
    clean = base_env({})
    result = subprocess.run(
        [*AUDITBOT, "serve"], env=clean, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "JWT_SECRET" in result.stderr and "--dev" in result.stderr
