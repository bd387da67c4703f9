"""`auditbot providers`: every preset, which is configured, and the price table."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.llm.presets import PRESETS


def test_providers_lists_every_preset(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(str(tmp_path))  # no stray .env
    for variable in ("LLM_PROVIDER", "GEMINI_API_KEY", "OPENAI_API_KEY", "LLM_MODEL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-deepseek-secret-value")
    result = CliRunner().invoke(main, ["providers"])
    assert result.exit_code == 0, result.output
    for name, preset in PRESETS.items():
        assert name in result.output
        assert (preset.default_model or "(LLM_MODEL)") in result.output
    assert "*deepseek" in result.output
    # Each preset's default rate limits, and what applies to the provider in use.
    assert "500 req / 200,000 tok" in result.output  # openai
    assert "50 req / 38,000 tok" in result.output  # anthropic
    assert "rate limits: 600 req / 5,000,000 tok a minute, following the provider's" \
        in result.output
    assert "in use: deepseek/deepseek-v4-flash" in result.output
    assert "no (GEMINI_API_KEY)" in result.output
    assert "(unknown model)" in result.output
    assert "sk-deepseek-secret-value" not in result.output
