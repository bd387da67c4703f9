"""Settings from the environment and `.env`, read once at start-up and passed in.

Names follow docs/architecture.md's contract (Probot's names where Probot has one). Invalid or
contradictory settings raise :class:`ConfigError` naming the variable; the CLI turns it
into one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, unquote, urlsplit

from dotenv import dotenv_values
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import ConfigError
from bot.mail import parse_smtp_url
from bot.postgres_url import split_postgres_url

# Each provider's usual key variable, in the documented provider order: it decides which
# provider runs when LLM_PROVIDER is unset and several keys are present but Gemini's is not.
PROVIDER_KEY_VARIABLES: dict[str, str] = {
    "gemini": "GEMINI_API_KEY",
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "qwen": "DASHSCOPE_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "glm": "ZHIPUAI_API_KEY",
    "kimi": "MOONSHOT_API_KEY",
    "ernie": "QIANFAN_API_KEY",
    "minimax": "MINIMAX_API_KEY",
    "doubao": "ARK_API_KEY",
}
# Ollama and the generic endpoint need no key. `bot/llm/presets.py` must cover each.
KNOWN_PROVIDERS: tuple[str, ...] = (*PROVIDER_KEY_VARIABLES, "ollama", "openai_compatible")

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")

# Probot's level names, accepted so a Probot deployment's LOG_LEVEL keeps working.
LOG_LEVEL_ALIASES = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "ERROR"}

# RFC 7518 §3.2: an HS256 key shorter than the hash output (32 bytes) weakens every token,
# and PyJWT warns on each one it signs.
JWT_SECRET_MIN_BYTES = 32

REDIS_SCHEMES = ("redis", "rediss", "unix")


class Settings(BaseSettings):
    """Every setting of the contract, with defaults that run on one machine."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # Core
    database_url: str = "sqlite+aiosqlite:///./auditbot.db"
    redis_url: str = "redis://127.0.0.1:6379/0"
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=1, le=65535)
    public_url: str = "http://localhost:3000"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    # `auditbot worker` serves /metrics on HOST:WORKER_METRICS_PORT when set.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    data_dir: Path = Path("./data")

    # GitHub App
    app_id: int | None = None
    private_key: SecretStr | None = None
    private_key_path: Path | None = None
    webhook_secret: SecretStr | None = None
    webhook_secret_previous: SecretStr | None = None
    github_api_url: str = "https://api.github.com"
    app_slug: str | None = None
    # GitHub asks integrations to space content-creating requests by at least a second.
    github_write_spacing_s: float = Field(default=1.0, ge=0)

    # GitLab
    gitlab_url: str = "https://gitlab.com"
    gitlab_token: SecretStr | None = None
    gitlab_webhook_secret: SecretStr | None = None
    gitlab_webhook_secret_previous: SecretStr | None = None

    # LLM
    llm_provider: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_base_url: str | None = None
    llm_fallbacks: str = ""  # "provider:model,provider:model"
    llm_allowed_models: str = ""  # comma-separated models a repository's config may pick
    llm_region: Literal["international", "china"] = "international"
    llm_timeout_s: float = Field(default=120.0, gt=0)
    llm_max_retries: int = Field(default=4, ge=0, le=10)
    llm_backoff_base_s: float = Field(default=1.0, ge=0)  # first retry delay, doubled, jittered
    llm_retry_budget_s: float = Field(default=300.0, gt=0)  # all attempts of one call
    llm_breaker_failures: int = Field(default=5, ge=1)  # failed attempts in a row to open
    llm_breaker_cooldown_s: float = Field(default=60.0, gt=0)
    llm_concurrency: int = Field(default=8, ge=1, le=256)
    llm_cache_ttl_s: int = Field(default=7 * 24 * 3600, ge=0)
    # None: the provider preset's default (bot/llm/presets.py, shown by `auditbot providers`).
    llm_requests_per_minute: int | None = Field(default=None, ge=1)
    llm_tokens_per_minute: int | None = Field(default=None, ge=1)
    llm_context_window: int | None = Field(default=None, ge=1024)
    llm_price_input: float | None = Field(default=None, ge=0)  # USD per million tokens
    llm_price_cached_input: float | None = Field(default=None, ge=0)
    llm_price_output: float | None = Field(default=None, ge=0)
    azure_api_version: str | None = None
    gemini_api_key: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    anthropic_api_key: SecretStr | None = None
    dashscope_api_key: SecretStr | None = None
    deepseek_api_key: SecretStr | None = None
    zhipuai_api_key: SecretStr | None = None
    moonshot_api_key: SecretStr | None = None
    qianfan_api_key: SecretStr | None = None
    minimax_api_key: SecretStr | None = None
    ark_api_key: SecretStr | None = None

    # Budgets (USD); 0 means no cap
    budget_per_task_usd: float = Field(default=2.0, ge=0)
    budget_project_monthly_usd: float = Field(default=50.0, ge=0)
    budget_installation_monthly_usd: float = Field(default=200.0, ge=0)

    # API, accounts, mail
    jwt_secret: SecretStr | None = None
    open_registration: bool = False
    smtp_url: str | None = None

    # Webhooks and jobs
    delivery_ttl_days: int = Field(default=7, ge=1)
    max_webhook_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # An audit's time limit (arq cancels the job after it).
    job_timeout_s: int = Field(default=900, ge=5)
    # A worker holds each running job on a lease this long that it renews every third of it;
    # the job of a dead worker (SIGKILL, a lost machine) is re-run once the lease runs out.
    job_lease_s: float = Field(default=30.0, ge=3)
    # A worker rides out a Redis outage this long, then exits for its supervisor to restart.
    redis_outage_limit_s: float = Field(default=300.0, ge=0)
    # A worker exits cleanly after this many jobs (0: never), finishing those it holds.
    worker_max_jobs: int = Field(default=0, ge=0)
    # Offline analyzer runs (Semgrep's subprocess, bandit) at once per worker process.
    analyzer_concurrency: int = Field(default=2, ge=1)
    publish_public_details: bool = False
    # Questions and thread answers per person and hour (`/audit ask`, replies); 0: no limit.
    conversation_per_hour: int = Field(default=10, ge=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment is read by load_settings() and passed in, never from a global.
        return (init_settings,)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        if info.field_name == "log_format":
            return value.strip().lower()
        level = value.strip().upper()
        return LOG_LEVEL_ALIASES.get(level, level)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        parts = _split_url(value)
        if parts.scheme not in REDIS_SCHEMES:
            raise ValueError(
                f"expected redis://, rediss:// or unix:// (e.g. redis://127.0.0.1:6379/0), "
                f"got {_without_password(parts)!r}"
            )
        database = parts.path.strip("/")
        if parts.scheme != "unix" and database and not database.isdigit():
            raise ValueError(f"the database after the host must be a number, got {database!r}")
        return value

    @field_validator("public_url", "github_api_url", "gitlab_url", "llm_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = _split_url(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"expected an http:// or https:// URL with a host, got {_without_password(parts)!r}"
            )
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if value is not None:
            parse_smtp_url(value)  # raises ConfigError naming SMTP_URL
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _jwt_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < JWT_SECRET_MIN_BYTES:
            raise ConfigError(
                "JWT_SECRET",
                f"shorter than {JWT_SECRET_MIN_BYTES} bytes, too weak to sign tokens",
                hint="generate one with `openssl rand -hex 32`",
            )
        return value

    @field_validator("llm_provider")
    @classmethod
    def _llm_provider(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        name = value.strip().lower()
        if name not in KNOWN_PROVIDERS:
            raise ValueError(f"unknown provider {value!r}; known: {', '.join(KNOWN_PROVIDERS)}")
        return name

    @field_validator("llm_fallbacks")
    @classmethod
    def _llm_fallbacks(cls, value: str) -> str:
        for item in _split_list(value):
            provider, _, model = item.partition(":")
            if provider.strip().lower() not in KNOWN_PROVIDERS or not model.strip():
                raise ValueError(f"{item!r} is not provider:model with a known provider")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.app_id is not None:
            if self.private_key is None and self.private_key_path is None:
                raise ConfigError(
                    "PRIVATE_KEY",
                    "APP_ID is set but neither PRIVATE_KEY nor PRIVATE_KEY_PATH is",
                    hint="download the app's private key from its GitHub settings page",
                )
            if self.webhook_secret is None:
                raise ConfigError(
                    "WEBHOOK_SECRET",
                    "APP_ID is set but WEBHOOK_SECRET is not",
                    hint="use the secret entered in the GitHub App's webhook settings",
                )
        if self.private_key_path is not None and not self.private_key_path.is_file():
            problem = "is a directory" if self.private_key_path.is_dir() else "does not exist"
            raise ConfigError("PRIVATE_KEY_PATH", f"file {str(self.private_key_path)!r} {problem}")
        if self.gitlab_token is not None and self.gitlab_webhook_secret is None:
            raise ConfigError(
                "GITLAB_WEBHOOK_SECRET",
                "GITLAB_TOKEN is set but GITLAB_WEBHOOK_SECRET is not",
                hint="set the same secret token in the GitLab project's webhook settings",
            )
        self._check_llm_provider()
        return self

    def _check_llm_provider(self) -> None:
        # Caught here, a missing key is one line at start; later it would kill the worker
        # in its start-up or fail every review.
        provider = self.llm_provider
        if provider is None:
            if self.llm_api_key is not None and self.chosen_provider() is None:
                raise ConfigError(
                    "LLM_PROVIDER",
                    "LLM_API_KEY is set but LLM_PROVIDER is not, so no provider would use it",
                    hint=f"name the key's provider: one of {', '.join(KNOWN_PROVIDERS)}",
                )
            return
        variable = PROVIDER_KEY_VARIABLES.get(provider)
        if variable is not None and self.provider_key(provider) is None:
            raise ConfigError(
                variable,
                f"LLM_PROVIDER is {provider} but neither {variable} nor LLM_API_KEY is set",
            )
        if provider == "openai_compatible" and self.llm_base_url is None:
            raise ConfigError(
                "LLM_BASE_URL",
                "LLM_PROVIDER is openai_compatible but LLM_BASE_URL is not set",
                hint="the endpoint's base, e.g. http://127.0.0.1:8000/v1 for vLLM",
            )

    # Derived values -------------------------------------------------------------------

    @property
    def github_enabled(self) -> bool:
        return self.app_id is not None

    @property
    def gitlab_enabled(self) -> bool:
        return self.gitlab_token is not None

    def github_private_key(self) -> str | None:
        """The PEM text of the App's private key; escaped newlines are accepted (Probot does)."""
        if self.private_key is not None:
            return self.private_key.get_secret_value().replace("\\n", "\n")
        if self.private_key_path is not None:
            return self.private_key_path.read_text()
        return None

    def provider_key(self, provider: str) -> SecretStr | None:
        """The API key for ``provider``: LLM_API_KEY for the chosen one, else its own variable."""
        if self.llm_api_key is not None and provider == self.chosen_provider():
            return self.llm_api_key
        variable = PROVIDER_KEY_VARIABLES.get(provider)
        if variable is None:
            return None
        value = getattr(self, variable.lower())
        return value if isinstance(value, SecretStr) else None

    def chosen_provider(self) -> str | None:
        """The provider choice of docs/architecture.md; None means offline analyzers only."""
        if self.llm_provider is not None:
            return self.llm_provider
        present = [
            name
            for name, variable in PROVIDER_KEY_VARIABLES.items()
            if getattr(self, variable.lower()) is not None
        ]
        if not present:
            return None
        if len(present) > 1 and "gemini" in present:
            return "gemini"
        return present[0]

    def secret_values(self) -> list[str]:
        """Every value that must never reach a log: secret settings, the private key file,
        and passwords written inside DATABASE_URL, REDIS_URL and SMTP_URL."""
        fields = (getattr(self, name) for name in type(self).model_fields)
        values = [value.get_secret_value() for value in fields if isinstance(value, SecretStr)]
        if self.private_key_path is not None:
            with suppress(OSError):  # unreadable: then it cannot be logged either
                values.append(self.private_key_path.read_text(errors="replace").strip())
        for url in (self.database_url, self.redis_url, self.smtp_url):
            password = _split_url(url).password if url else None
            if password:
                values.extend({password, unquote(password)})
        return values

    @property
    def fallbacks(self) -> list[tuple[str, str]]:
        pairs = []
        for item in _split_list(self.llm_fallbacks):
            provider, _, model = item.partition(":")
            pairs.append((provider.strip().lower(), model.strip()))
        return pairs

    @property
    def allowed_models(self) -> list[str]:
        return _split_list(self.llm_allowed_models)


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _split_url(value: str) -> SplitResult:
    parts = urlsplit(value.strip())
    try:
        parts.port  # noqa: B018 -- urlsplit checks the port only when it is read
    except ValueError as exc:
        raise ValueError(f"cannot parse {_without_password(parts)!r} as a URL: {exc}") from None
    return parts


def _without_password(parts: SplitResult) -> str:
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1))
    return parts.geturl()


def normalise_database_url(value: str) -> str:
    """Accept the usual spellings and return an async SQLAlchemy URL, or raise ValueError."""
    try:
        url = make_url(value)
    except ArgumentError as exc:
        raise ValueError(f"cannot parse {value!r} as a database URL") from exc
    driver = url.drivername
    if driver in {"sqlite", "sqlite+aiosqlite"}:
        url = url.set(drivername="sqlite+aiosqlite")
    elif driver in {"postgres", "postgresql", "postgresql+asyncpg"}:
        url = url.set(drivername="postgresql+asyncpg")
        split_postgres_url(url)  # refuses what asyncpg could not take, naming it
    else:
        raise ValueError(f"unsupported database {driver!r}; use sqlite or postgresql")
    return url.render_as_string(hide_password=False)


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: str | Path | None = ".env",
    only: Iterable[str] | None = None,
) -> Settings:
    """Build settings from ``environ`` (default: the process environment) over ``env_file``;
    with ``only``, from those variables alone (the others keep their defaults)."""
    values: dict[str, Any] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k.upper(): v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update({k.upper(): v for k, v in (os.environ if environ is None else environ).items()})
    wanted = None if only is None else {name.upper() for name in only}
    data = {
        name: values[name.upper()]
        for name in Settings.model_fields
        if values.get(name.upper(), "") != "" and (wanted is None or name.upper() in wanted)
    }
    try:
        return Settings(**data)
    except ConfigError:
        raise
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigError(variable, _clean(first["msg"])) from None


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


def user_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """auditbot's folder in the user's cache (XDG: ``$XDG_CACHE_HOME``, else ``~/.cache``)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME", "")
    if not Path(base).is_absolute():  # the XDG rule: a relative value is ignored
        base = str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "auditbot"
