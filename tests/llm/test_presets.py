"""Every preset end to end through the SDK it uses, against a fake that checks the path,
auth header style and body shape the real service expects."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlparse

import pytest

from bot.analysis.answer import ModelAnswer
from bot.config import KNOWN_PROVIDERS, Settings
from bot.llm.factory import build_provider
from bot.llm.presets import PRESETS
from bot.llm.service import build_llm_service
from bot.llm.types import CompletionRequest
from tests.fakes.fake_anthropic import FakeAnthropic
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.support.servers import serve_in_thread

# The chat endpoint of each preset as its provider documents it (see bot/llm/presets.py).
DOCUMENTED = {
    "gemini": "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
    "openai": "https://api.openai.com/v1/chat/completions",
    "anthropic": "https://api.anthropic.com/v1/messages",
    "qwen": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions",
    "deepseek": "https://api.deepseek.com/chat/completions",
    "glm": "https://api.z.ai/api/paas/v4/chat/completions",
    "kimi": "https://api.moonshot.ai/v1/chat/completions",
    "ernie": "https://qianfan.baidubce.com/v2/chat/completions",
    "minimax": "https://api.minimax.io/v1/chat/completions",
    "doubao": "https://ark.cn-beijing.volces.com/api/v3/chat/completions",
    "ollama": "http://127.0.0.1:11434/v1/chat/completions",
}
CHINA = {
    "qwen": "https://dashscope.aliyuncs.com/compatible-mode/v1",
    "glm": "https://open.bigmodel.cn/api/paas/v4/",
    "kimi": "https://api.moonshot.cn/v1",
    "minimax": "https://api.minimaxi.com/v1",
}


def test_every_known_provider_has_a_preset() -> None:
    assert set(PRESETS) == set(KNOWN_PROVIDERS)
    assert set(DOCUMENTED) == set(KNOWN_PROVIDERS) - {"openai_compatible"}
    for name, preset in PRESETS.items():
        assert preset.docs.startswith("https://"), name


def _request(stream: bool) -> CompletionRequest:
    return CompletionRequest(
        system="You review code changes.", user="--- a/app/db.py\n+++ b/app/db.py\n@@ ...",
        schema=ModelAnswer, max_output_tokens=512, stream=stream, cache=False,
    )


def _check_answer(result_parsed: object) -> None:
    assert isinstance(result_parsed, ModelAnswer)
    assert [f.path for f in result_parsed.findings] == ["app/db.py", "app/views.py"]
    assert result_parsed.findings[1].severity == "medium"  # "Medium" normalised
    assert result_parsed.findings[0].cwe == "CWE-89"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("name", sorted(DOCUMENTED))
async def test_preset_end_to_end(
    name: str, stream: bool, llm_settings: Callable[..., Settings]
) -> None:
    preset = PRESETS[name]
    model = preset.default_model
    assert model is not None
    key = f"key-for-{name}"
    fake: FakeOpenAI | FakeAnthropic
    if preset.protocol == "anthropic":
        fake = FakeAnthropic(key=key, model=model)
    else:
        fake = FakeOpenAI(OpenAIExpect(
            path=urlparse(DOCUMENTED[name]).path, key=key, model=model,
            auth="any" if name == "ollama" else "bearer",
            max_tokens_field="max_completion_tokens" if name == "openai" else "max_tokens",
        ), extra_fields=frozenset({"prompt_cache_key"}) if name == "openai" else frozenset())
    preset_url = preset.base_url("international")
    assert preset_url is not None
    with serve_in_thread(fake.app) as base:
        env = {"LLM_PROVIDER": name, "LLM_BASE_URL": base + urlparse(preset_url).path}
        if preset.key_variable:
            env[preset.key_variable] = key
        service = build_llm_service(llm_settings(**env), None)
        assert service is not None
        try:
            result = await service.complete(_request(stream))
        finally:
            await service.aclose()
    assert fake.refusals == []
    _check_answer(result.parsed)
    assert (result.provider, result.model, result.cache_hit) == (name, model, False)
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert (result.cost_usd > 0) is (not preset.local)
    body = fake.requests[0]
    assert bool(body.get("stream")) is stream
    if preset.protocol == "anthropic":
        assert body["tool_choice"] == {"type": "tool", "name": "ModelAnswer"}
        assert body["tools"][0]["input_schema"]["type"] == "object"
        return
    # OpenAI's own routing hint goes to OpenAI only: the other fakes refuse unknown fields.
    assert ("prompt_cache_key" in body) is (name == "openai")
    system = body["messages"][0]["content"]
    if preset.structured == "json_schema":
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["name"] == "ModelAnswer"
    elif preset.structured == "json_object":
        assert body["response_format"] == {"type": "json_object"}
        assert "JSON schema" in system
    else:
        assert "response_format" not in body
        assert "JSON schema" in system
    if stream:
        assert body["stream_options"] == {"include_usage": True}


async def test_azure_openai_deployment_api_key_and_version(
    llm_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeOpenAI(OpenAIExpect(
        path="/openai/deployments/review-4o/chat/completions", key="azure-key",
        model="review-4o", auth="azure", api_version="2024-10-21",
        max_tokens_field="max_completion_tokens",
    ))
    with serve_in_thread(fake.app) as base, caplog.at_level(logging.WARNING):
        service = build_llm_service(llm_settings(
            LLM_PROVIDER="openai_compatible", LLM_BASE_URL=base, LLM_MODEL="review-4o",
            LLM_API_KEY="azure-key", AZURE_API_VERSION="2024-10-21",
        ), None)
        assert service is not None
        try:
            result = await service.complete(_request(stream=False))
        finally:
            await service.aclose()
    assert fake.refusals == []
    _check_answer(result.parsed)
    # A deployment name is not in the price table: defaults, a warning, a non-zero price.
    assert "not in the price table" in caplog.text
    assert result.cost_usd > 0
    assert service.context_window == 32_768


async def test_generic_endpoint_downgrades_when_json_schema_is_refused(
    llm_settings: Callable[..., Settings],
) -> None:
    fake = FakeOpenAI(OpenAIExpect(
        path="/v1/chat/completions", key=None, model="Qwen/Qwen2.5-Coder-32B-Instruct",
        auth="any", refuse_formats={"json_schema"},
    ))
    with serve_in_thread(fake.app) as base:
        service = build_llm_service(llm_settings(
            LLM_PROVIDER="openai_compatible", LLM_BASE_URL=base + "/v1",
            LLM_MODEL="Qwen/Qwen2.5-Coder-32B-Instruct",
        ), None)
        assert service is not None
        try:
            result = await service.complete(_request(stream=False))
        finally:
            await service.aclose()
    _check_answer(result.parsed)
    assert len(fake.refusals) == 1 and "json_schema" in fake.refusals[0]
    assert fake.requests[-1]["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("name", sorted(CHINA))
def test_china_region_uses_the_mainland_platform(
    name: str, llm_settings: Callable[..., Settings]
) -> None:
    preset = PRESETS[name]
    assert preset.regional
    settings = llm_settings(LLM_REGION="china", **{str(preset.key_variable): "k"})
    provider = build_provider(name, "m", settings, primary=False)
    assert provider.base_url == CHINA[name]  # type: ignore[attr-defined]
    international = build_provider(name, "m", llm_settings(**{str(preset.key_variable): "k"}),
                                   primary=False)
    assert international.base_url == preset.base_url("international")  # type: ignore[attr-defined]


def test_no_provider_configured_means_offline(llm_settings: Callable[..., Settings]) -> None:
    assert build_llm_service(llm_settings(), None) is None


def test_several_keys_choose_gemini(llm_settings: Callable[..., Settings]) -> None:
    settings = llm_settings(OPENAI_API_KEY="a", GEMINI_API_KEY="b", DEEPSEEK_API_KEY="c")
    service = build_llm_service(settings, None)
    assert service is not None
    assert (service.provider, service.model) == ("gemini", "gemini-2.5-flash")


def test_fallbacks_without_a_key_are_skipped(
    llm_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    env = {"OPENAI_API_KEY": "a", "LLM_FALLBACKS": "anthropic:claude-haiku-4-5,qwen:qwen-max"}
    with caplog.at_level(logging.WARNING):
        service = build_llm_service(llm_settings(**env), None)
    assert service is not None
    assert service.chain == ["openai:gpt-4.1-mini"]
    assert "fallback anthropic:claude-haiku-4-5 skipped" in caplog.text
    service = build_llm_service(llm_settings(ANTHROPIC_API_KEY="b", **env), None)
    assert service is not None
    assert service.chain == ["openai:gpt-4.1-mini", "anthropic:claude-haiku-4-5"]
