"""Build a provider from a preset name, a model and the settings."""

from __future__ import annotations

import logging

from bot.config import Settings
from bot.errors import ConfigError
from bot.llm.presets import PRESETS
from bot.llm.providers.base import Provider

log = logging.getLogger(__name__)


def default_model(name: str, settings: Settings) -> str:
    preset = PRESETS[name]
    model = settings.llm_model or preset.default_model
    if model is None:
        raise ConfigError(
            "LLM_MODEL",
            f"provider {name} has no default model",
            hint="set LLM_MODEL (for Azure: the deployment name)",
        )
    return model


def build_provider(
    name: str, model: str, settings: Settings, *, primary: bool, base_url: str | None = None
) -> Provider:
    """A provider for ``name``/``model``. The primary provider takes LLM_BASE_URL and
    LLM_API_KEY; fallbacks use their preset's URL (per LLM_REGION) and own key variable,
    unless ``base_url`` is given."""
    preset = PRESETS[name]
    url = base_url or (settings.llm_base_url if primary else None) or preset.base_url(
        settings.llm_region
    )
    if not url:
        raise ConfigError(
            "LLM_BASE_URL",
            f"provider {name} needs a base URL",
            hint="e.g. http://127.0.0.1:8000/v1 for vLLM, https://<resource>.openai.azure.com "
            "for Azure (with AZURE_API_VERSION)",
        )
    secret = settings.provider_key(name)
    if secret is None and primary and settings.llm_api_key is not None:
        secret = settings.llm_api_key
    key = secret.get_secret_value() if secret is not None else None
    if key is None and preset.needs_key:
        raise ConfigError(
            preset.key_variable or "LLM_API_KEY",
            f"provider {name} needs an API key",
            hint=f"set {preset.key_variable} (or LLM_API_KEY); see {preset.docs}",
        )
    # The SDKs are imported here, on first use: each takes about a second to import, which
    # every offline `auditbot review` and every web process paid for nothing.
    if preset.protocol == "anthropic":
        from bot.llm.providers.anthropic_messages import AnthropicProvider

        return AnthropicProvider(
            name=name, model=model, base_url=url, api_key=key,
            structured=preset.structured, timeout_s=settings.llm_timeout_s,
        )
    from bot.llm.providers.openai_chat import OpenAIChatProvider

    azure = settings.azure_api_version if name == "openai_compatible" else None
    # OpenAI's newer models refuse max_tokens; the compatible providers document max_tokens.
    field = "max_completion_tokens" if name == "openai" or azure else "max_tokens"
    # prompt_cache_key is OpenAI's own field: compatible servers may refuse it.
    return OpenAIChatProvider(
        name=name, model=model, base_url=url, api_key=key, structured=preset.structured,
        timeout_s=settings.llm_timeout_s, azure_api_version=azure, max_tokens_field=field,
        prompt_cache_key=name == "openai",
    )
