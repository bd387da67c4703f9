"""The text `auditbot providers` prints: every preset, its default model, whether it is
configured, its default rate limits, and the price table."""

from __future__ import annotations

from bot.config import Settings
from bot.llm.limits import Limits
from bot.llm.presets import PRESETS
from bot.llm.pricing import MODELS, UNKNOWN_PRICE, model_info


def _configured(name: str, settings: Settings) -> str:
    preset = PRESETS[name]
    if name == "openai_compatible":
        if settings.llm_provider == name and settings.llm_base_url:
            return "yes (Azure)" if settings.azure_api_version else "yes"
        return "no (set LLM_PROVIDER and LLM_BASE_URL)"
    if not preset.needs_key:
        return "yes (local, no key)"
    if settings.provider_key(name) is not None:
        return "yes"
    return f"no ({preset.key_variable})"


def _limits(rpm: int, tpm: int) -> str:
    return f"{rpm:,} req / {tpm:,} tok"


def providers_text(settings: Settings) -> str:
    chosen = settings.chosen_provider()
    rows = [("provider", "default model", "configured", "output", "limits a minute", "endpoint")]
    for name, preset in PRESETS.items():
        marker = "*" if name == chosen else " "
        endpoint = preset.base_url(settings.llm_region) or "LLM_BASE_URL"
        if preset.regional:
            endpoint += "  (LLM_REGION=international|china)"
        rows.append((
            f"{marker}{name}", preset.default_model or "(LLM_MODEL)", _configured(name, settings),
            preset.structured, _limits(preset.requests_per_minute, preset.tokens_per_minute),
            endpoint,
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[5]])
        for row in rows
    ]
    if chosen is None:
        lines.append("\nNo provider configured: reviews use the offline analyzers only.")
    else:
        model = settings.llm_model or PRESETS[chosen].default_model or "?"
        info = model_info(chosen, model, settings, primary=True, local=PRESETS[chosen].local)
        lines.append(
            f"\n* in use: {chosen}/{model}, context window {info.context_window:,} tokens, "
            f"${info.price_input:g} in / ${info.price_cached_input:g} cached / "
            f"${info.price_output:g} out per million tokens"
        )
        limits = limits_for(chosen, settings)
        lines.append(
            f"  rate limits: {_limits(limits.rpm, limits.tpm)} a minute, "
            + ("following the provider's rate-limit headers" if limits.adaptive else
               "fixed by LLM_REQUESTS_PER_MINUTE / LLM_TOKENS_PER_MINUTE")
        )
        if settings.fallbacks:
            lines.append("  fallbacks: " + ", ".join(f"{p}:{m}" for p, m in settings.fallbacks))
    lines.append("\nPrices, USD per million tokens (input / cached input / output), and windows:")
    width = max(len(name) for name in MODELS)
    for name, info in sorted(MODELS.items(), key=lambda item: item[0].lower()):
        lines.append(
            f"  {name.ljust(width)}  {info.price_input:>6g} / {info.price_cached_input:>6g} / "
            f"{info.price_output:>6g}   {info.context_window:>9,}"
        )
    lines.append(
        f"  {'(unknown model)'.ljust(width)}  {UNKNOWN_PRICE[0]:>6g} / {UNKNOWN_PRICE[1]:>6g} / "
        f"{UNKNOWN_PRICE[2]:>6g}   (override with LLM_PRICE_* and LLM_CONTEXT_WINDOW)"
    )
    return "\n".join(lines)


def limits_for(provider: str, settings: Settings) -> Limits:
    """The settings' limits when given (fixed), else the preset's (adapting to the
    provider's headers)."""
    preset = PRESETS.get(provider)
    rpm = settings.llm_requests_per_minute
    tpm = settings.llm_tokens_per_minute
    return Limits(
        rpm or (preset.requests_per_minute if preset else 60),
        tpm or (preset.tokens_per_minute if preset else 400_000),
        adaptive=rpm is None and tpm is None,
    )
