"""Settings from the environment and `.env`, read once at start-up and passed in.

Names follow DESIGN.md's contract (Probot's names where Probot has one). Invalid or
contradictory settings raise :class:`ConfigError` naming the variable; the CLI turns it
into one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import ConfigError

# The documented provider order: it decides which provider runs when LLM_PROVIDER is unset
# and several keys are present but Gemini's is not. `bot/llm/presets.py` must cover each.
KNOWN_PROVIDERS: tuple[str, ...] = (
    "gemini",
    "openai",
    "anthropic",
    "qwen",
    "deepseek",
    "glm",
    "kimi",
    "ernie",
    "minimax",
    "doubao",
    "ollama",
    "openai_compatible",
)

# Each provider's usual key variable; Ollama and the generic endpoint need none.
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

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")


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
    llm_requests_per_minute: int = Field(default=60, ge=1)
    llm_tokens_per_minute: int = Field(default=400_000, ge=1)
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
    # arq re-runs the job of a dead worker JOB_TIMEOUT_S + 10 s after it started.
    job_timeout_s: int = Field(default=900, ge=5)
    publish_public_details: bool = False

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
            raise ConfigError(
                "PRIVATE_KEY_PATH", f"file {str(self.private_key_path)!r} does not exist"
            )
        if self.gitlab_token is not None and self.gitlab_webhook_secret is None:
            raise ConfigError(
                "GITLAB_WEBHOOK_SECRET",
                "GITLAB_TOKEN is set but GITLAB_WEBHOOK_SECRET is not",
                hint="set the same secret token in the GitLab project's webhook settings",
            )
        return self

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
        """DESIGN.md's provider choice; None means offline analyzers only."""
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
    else:
        raise ValueError(f"unsupported database {driver!r}; use sqlite or postgresql")
    return url.render_as_string(hide_password=False)


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: str | Path | None = ".env"
) -> Settings:
    """Build settings from ``environ`` (default: the process environment) over ``env_file``."""
    values: dict[str, Any] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k.upper(): v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update({k.upper(): v for k, v in (os.environ if environ is None else environ).items()})
    data = {
        name: values[name.upper()]
        for name in Settings.model_fields
        if values.get(name.upper(), "") != ""
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
