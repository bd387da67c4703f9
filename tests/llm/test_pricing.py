"""Prices and windows: known models, dated snapshots, unknown models (defaults, a warning,
a non-zero price, never a crash), and the settings' overrides."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from bot.config import Settings
from bot.llm.pricing import DEFAULT_CONTEXT_WINDOW, UNKNOWN_PRICE, model_info
from bot.llm.types import Usage


def test_known_model_cost() -> None:
    info = model_info("openai", "gpt-4.1-mini")
    assert info.known and info.context_window == 1_047_576
    cost = info.cost(Usage(input_tokens=1_000_000, output_tokens=1_000_000, cached_tokens=500_000))
    assert cost == pytest.approx(0.5 * 0.40 + 0.5 * 0.10 + 1.60)


def test_dated_snapshot_uses_its_base_model() -> None:
    assert model_info("openai", "gpt-4o-mini-2024-07-18") == model_info("openai", "gpt-4o-mini")
    assert model_info("gemini", "models/gemini-2.5-pro").price_output == 10.0


def test_unknown_model_is_priced_conservatively(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        info = model_info("openai_compatible", "my-finetune")
    assert not info.known
    assert info.context_window == DEFAULT_CONTEXT_WINDOW
    assert (info.price_input, info.price_cached_input, info.price_output) == UNKNOWN_PRICE
    assert info.cost(Usage(1000, 1000)) > 0
    assert "my-finetune" in caplog.text and "LLM_PRICE_INPUT" in caplog.text


def test_local_unknown_model_costs_nothing() -> None:
    assert model_info("ollama", "llama3.3:70b", local=True).price_input == 0.0


def test_settings_override_the_primary_model(llm_settings: Callable[..., Settings]) -> None:
    settings = llm_settings(LLM_CONTEXT_WINDOW="65536", LLM_PRICE_INPUT="1.5",
                            LLM_PRICE_OUTPUT="2.5")
    info = model_info("openai_compatible", "my-finetune", settings, primary=True)
    assert (info.context_window, info.price_input, info.price_cached_input, info.price_output) == (
        65_536, 1.5, 1.5, 2.5,
    )
    fallback = model_info("openai", "gpt-4.1-mini", settings, primary=False)
    assert fallback.price_input == 0.40
