"""The text `auditbot providers` prints: every preset, its default model, whether it is
configured, and the price table."""

from __future__ import annotations

from bot.config import Settings
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


def providers_text(settings: Settings) -> str:
    chosen = settings.chosen_provider()
    rows = [("provider", "default model", "configured", "output", "endpoint")]
    for name, preset in PRESETS.items():
        marker = "*" if name == chosen else " "
        endpoint = preset.base_url(settings.llm_region) or "LLM_BASE_URL"
        if preset.regional:
            endpoint += "  (LLM_REGION=international|china)"
        rows.append((
            f"{marker}{name}", preset.default_model or "(LLM_MODEL)", _configured(name, settings),
            preset.structured, endpoint,
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[4]])
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
