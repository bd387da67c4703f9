"""Context windows and prices (USD per million tokens) of the models auditbot knows, and the
cost of a call. A model the table does not know gets a default window and a deliberately
high price, so budgets still hold, plus one warning; users override both in settings.

Prices are list prices checked against each provider's pricing page in 2026; they drift,
which is why LLM_PRICE_INPUT / LLM_PRICE_CACHED_INPUT / LLM_PRICE_OUTPUT exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.config import Settings
from bot.llm.types import Usage

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_WINDOW = 32_768
# Conservative: above every mainstream model's list price, so an unknown model never
# slips past a budget because it was priced at zero.
UNKNOWN_PRICE = (15.0, 15.0, 60.0)


@dataclass(frozen=True)
class ModelInfo:
    """A model's window and prices, USD per million tokens. ``price_cache_write`` is what
    a prompt-cache write costs (Anthropic: 1.25 x input for the 5-minute cache); None means
    the input price (OpenAI and the others bill no extra for writing their caches)."""

    context_window: int
    price_input: float
    price_cached_input: float
    price_output: float
    known: bool = True
    price_cache_write: float | None = None

    def cost(self, usage: Usage) -> float:
        written = usage.cache_write_tokens
        fresh = max(usage.input_tokens - usage.cached_tokens - written, 0)
        write_price = self.price_input if self.price_cache_write is None else self.price_cache_write
        return (
            fresh * self.price_input
            + usage.cached_tokens * self.price_cached_input
            + written * write_price
            + usage.output_tokens * self.price_output
        ) / 1_000_000


def _m(window: int, price_in: float, cached: float, price_out: float) -> ModelInfo:
    return ModelInfo(window, price_in, cached, price_out)


# Anthropic bills a 5-minute cache write at 1.25 x the input price and a read at 0.1 x
# (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#pricing).
ANTHROPIC_CACHE_WRITE = 1.25


def _claude(window: int, price_in: float, cached: float, price_out: float) -> ModelInfo:
    return ModelInfo(window, price_in, cached, price_out,
                     price_cache_write=price_in * ANTHROPIC_CACHE_WRITE)


MODELS: dict[str, ModelInfo] = {
    # Gemini https://ai.google.dev/gemini-api/docs/pricing
    "gemini-2.5-flash": _m(1_048_576, 0.30, 0.03, 2.50),
    "gemini-2.5-flash-lite": _m(1_048_576, 0.10, 0.01, 0.40),
    "gemini-2.5-pro": _m(1_048_576, 1.25, 0.125, 10.0),
    "gemini-3-flash-preview": _m(1_048_576, 0.50, 0.05, 3.00),
    "gemini-3-pro-preview": _m(1_048_576, 2.00, 0.20, 12.0),
    # OpenAI https://openai.com/api/pricing/
    "gpt-4.1": _m(1_047_576, 2.00, 0.50, 8.00),
    "gpt-4.1-mini": _m(1_047_576, 0.40, 0.10, 1.60),
    "gpt-4.1-nano": _m(1_047_576, 0.10, 0.025, 0.40),
    "gpt-4o": _m(128_000, 2.50, 1.25, 10.0),
    "gpt-4o-mini": _m(128_000, 0.15, 0.075, 0.60),
    "gpt-5": _m(400_000, 1.25, 0.125, 10.0),
    "gpt-5-mini": _m(400_000, 0.25, 0.025, 2.00),
    "o4-mini": _m(200_000, 1.10, 0.275, 4.40),
    # Anthropic https://www.anthropic.com/pricing#api
    "claude-sonnet-4-6": _claude(200_000, 3.00, 0.30, 15.0),
    "claude-sonnet-4-5": _claude(200_000, 3.00, 0.30, 15.0),
    "claude-opus-4-6": _claude(200_000, 5.00, 0.50, 25.0),
    "claude-sonnet-4": _claude(200_000, 3.00, 0.30, 15.0),
    "claude-haiku-4-5": _claude(200_000, 1.00, 0.10, 5.00),
    "claude-opus-4-1": _claude(200_000, 15.0, 1.50, 75.0),
    # Qwen https://www.alibabacloud.com/help/en/model-studio/models
    "qwen-plus": _m(131_072, 0.40, 0.08, 1.20),
    "qwen-max": _m(32_768, 1.60, 0.32, 6.40),
    "qwen-turbo": _m(1_000_000, 0.05, 0.01, 0.20),
    "qwen3-coder-plus": _m(1_000_000, 1.00, 0.10, 5.00),
    # DeepSeek https://api-docs.deepseek.com/quick_start/pricing
    "deepseek-v4-flash": _m(131_072, 0.28, 0.028, 0.42),
    "deepseek-v4-pro": _m(131_072, 0.56, 0.056, 1.68),
    "deepseek-chat": _m(131_072, 0.28, 0.028, 0.42),
    "deepseek-reasoner": _m(131_072, 0.28, 0.028, 0.42),
    # Zhipu https://docs.z.ai/guides/overview/pricing
    "glm-4.6": _m(200_000, 0.60, 0.11, 2.20),
    "glm-4.5": _m(128_000, 0.60, 0.11, 2.20),
    "glm-4.5-air": _m(128_000, 0.20, 0.03, 1.10),
    # Moonshot https://platform.moonshot.ai/docs/pricing/chat
    "kimi-k2-0905-preview": _m(262_144, 0.60, 0.15, 2.50),
    "kimi-k2-turbo-preview": _m(262_144, 1.15, 0.15, 8.00),
    "kimi-k2.5": _m(262_144, 0.60, 0.10, 3.00),
    "moonshot-v1-128k": _m(131_072, 2.00, 2.00, 5.00),
    # Baidu Qianfan https://cloud.baidu.com/doc/WENXINWORKSHOP/s/hlrk4akp7
    "ernie-4.5-turbo-128k": _m(131_072, 0.11, 0.11, 0.44),
    "ernie-x1-turbo-32k": _m(32_768, 0.14, 0.14, 0.55),
    # MiniMax https://platform.minimax.io/docs/guides/pricing
    "MiniMax-M2": _m(204_800, 0.30, 0.03, 1.20),
    "MiniMax-M2.5": _m(204_800, 0.30, 0.03, 1.20),
    # Volcengine Ark https://www.volcengine.com/docs/82379/1544106
    "doubao-seed-1-6": _m(262_144, 0.11, 0.02, 1.10),
    "doubao-1-5-pro-32k": _m(32_768, 0.11, 0.02, 0.28),
}


def model_info(
    provider: str, model: str, settings: Settings | None = None, *, primary: bool = False,
    local: bool = False,
) -> ModelInfo:
    """The window and prices for ``model``; the settings' overrides apply to the primary
    model. Never raises: an unknown model gets defaults and a warning."""
    info = _lookup(model)
    if info is None:
        if local:
            # Ollama and friends run on the user's machine: no money changes hands.
            info = ModelInfo(DEFAULT_CONTEXT_WINDOW, 0.0, 0.0, 0.0, known=False)
        else:
            info = ModelInfo(DEFAULT_CONTEXT_WINDOW, *UNKNOWN_PRICE, known=False)
        override = settings is not None and primary and settings.llm_price_input is not None
        log.warning(
            "model %s/%s is not in the price table: using a %d-token window%s; set "
            "LLM_CONTEXT_WINDOW and LLM_PRICE_INPUT/LLM_PRICE_CACHED_INPUT/LLM_PRICE_OUTPUT",
            provider, model, DEFAULT_CONTEXT_WINDOW,
            "" if override or local else
            f" and ${UNKNOWN_PRICE[0]}/${UNKNOWN_PRICE[2]} per million tokens in/out",
        )
    if settings is None or not primary:
        return info
    price_in = settings.llm_price_input
    price_out = settings.llm_price_output
    cached = settings.llm_price_cached_input
    write = info.price_cache_write
    if price_in is not None and write is not None:
        write = price_in * ANTHROPIC_CACHE_WRITE  # keeps the provider's write ratio
    return ModelInfo(
        context_window=settings.llm_context_window or info.context_window,
        price_input=info.price_input if price_in is None else price_in,
        price_cached_input=(
            cached if cached is not None
            else (price_in if price_in is not None else info.price_cached_input)
        ),
        price_output=info.price_output if price_out is None else price_out,
        known=info.known,
        price_cache_write=write,
    )


def _lookup(model: str) -> ModelInfo | None:
    name = model.removeprefix("models/")
    if name in MODELS:
        return MODELS[name]
    lowered = {key.lower(): value for key, value in MODELS.items()}
    if name.lower() in lowered:
        return lowered[name.lower()]
    # Dated snapshots ("gpt-4o-mini-2024-07-18", "claude-sonnet-4-5-20250929") share the
    # base model's window and price; the longest matching prefix wins.
    best: tuple[int, ModelInfo] | None = None
    for key, info in lowered.items():
        if name.lower().startswith(key + "-") and (best is None or len(key) > best[0]):
            best = (len(key), info)
    return best[1] if best else None


def estimate_tokens(text: str) -> int:
    """A cheap upper-leaning estimate (about 3 bytes a token) used to reserve budget and
    rate-limit tokens before the provider reports the real count."""
    return len(text.encode("utf-8")) // 3 + 1
