"""The providers auditbot knows: base URL (per region where a provider runs separate China
and international platforms), key variable, default model and the strongest structured-
output mechanism each supports. Each entry cites the provider's own page it was checked
against. Every name in ``bot.config.KNOWN_PROVIDERS`` has an entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.config import KNOWN_PROVIDERS, PROVIDER_KEY_VARIABLES
from bot.llm.types import StructuredMode

Protocol = Literal["openai", "anthropic"]
Region = Literal["international", "china"]


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    protocol: Protocol
    # region -> base URL; one entry when the provider has a single platform.
    base_urls: dict[str, str]
    default_model: str | None
    structured: StructuredMode
    docs: str
    needs_key: bool = True
    local: bool = False  # runs on the user's own machine: no money is spent

    @property
    def key_variable(self) -> str | None:
        return PROVIDER_KEY_VARIABLES.get(self.name)

    def base_url(self, region: Region) -> str | None:
        return self.base_urls.get(region) or self.base_urls.get("international")

    @property
    def regional(self) -> bool:
        return "china" in self.base_urls


PRESETS: dict[str, Preset] = {
    # Authorization: Bearer <GEMINI_API_KEY>; JSON schema through response_format.
    # https://ai.google.dev/gemini-api/docs/openai
    "gemini": Preset(
        "gemini", "Google Gemini", "openai",
        {"international": "https://generativelanguage.googleapis.com/v1beta/openai/"},
        "gemini-2.5-flash", "json_schema",
        "https://ai.google.dev/gemini-api/docs/openai",
    ),
    # Authorization: Bearer; Structured Outputs (json_schema).
    # https://platform.openai.com/docs/guides/structured-outputs
    "openai": Preset(
        "openai", "OpenAI", "openai",
        {"international": "https://api.openai.com/v1"},
        "gpt-4.1-mini", "json_schema",
        "https://platform.openai.com/docs/api-reference/chat",
    ),
    # x-api-key + anthropic-version: 2023-06-01 on POST /v1/messages; a forced tool call
    # carries the schema. (claude-sonnet-4-5 reaches end of life on 2026-11-30.) https://docs.anthropic.com/en/api/messages
    "anthropic": Preset(
        "anthropic", "Anthropic Claude", "anthropic",
        {"international": "https://api.anthropic.com"},
        "claude-sonnet-4-6", "tool",
        "https://docs.anthropic.com/en/api/messages",
    ),
    # DashScope compatible mode; Singapore (international) and Beijing (China) platforms
    # take different keys. https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope
    "qwen": Preset(
        "qwen", "Alibaba Qwen (DashScope)", "openai",
        {
            "international": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
            "china": "https://dashscope.aliyuncs.com/compatible-mode/v1",
        },
        "qwen-plus", "json_object",
        "https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope",
    ),
    # base_url https://api.deepseek.com (the /v1 alias also works); JSON Output mode.
    # deepseek-chat is deprecated from 2026-07-24 in favour of deepseek-v4-flash.
    # https://api-docs.deepseek.com/
    "deepseek": Preset(
        "deepseek", "DeepSeek", "openai",
        {"international": "https://api.deepseek.com"},
        "deepseek-v4-flash", "json_object",
        "https://api-docs.deepseek.com/",
    ),
    # Zhipu BigModel (China) and Z.ai (international), both /api/paas/v4, Bearer key.
    # https://docs.bigmodel.cn/cn/guide/develop/openai/introduction , https://docs.z.ai/
    "glm": Preset(
        "glm", "Zhipu GLM", "openai",
        {
            "international": "https://api.z.ai/api/paas/v4/",
            "china": "https://open.bigmodel.cn/api/paas/v4/",
        },
        "glm-4.6", "json_object",
        "https://docs.z.ai/guides/develop/openai/python",
    ),
    # Moonshot: api.moonshot.ai (international) and api.moonshot.cn (China), Bearer key.
    # https://platform.moonshot.ai/docs/api/chat
    "kimi": Preset(
        "kimi", "Moonshot Kimi", "openai",
        {
            "international": "https://api.moonshot.ai/v1",
            "china": "https://api.moonshot.cn/v1",
        },
        "kimi-k2-0905-preview", "json_object",
        "https://platform.moonshot.ai/docs/api/chat",
    ),
    # Qianfan ModelBuilder v2 is OpenAI-compatible: base_url https://qianfan.baidubce.com/v2,
    # Bearer API key (bce-v3/...). https://cloud.baidu.com/doc/WENXINWORKSHOP/s/2m3fihw8s
    "ernie": Preset(
        "ernie", "Baidu ERNIE (Qianfan v2)", "openai",
        {"international": "https://qianfan.baidubce.com/v2"},
        "ernie-4.5-turbo-128k", "json_object",
        "https://cloud.baidu.com/doc/WENXINWORKSHOP/s/2m3fihw8s",
    ),
    # api.minimax.io (international) and api.minimaxi.com (China). JSON mode is not
    # documented for the OpenAI-compatible route, so the schema goes in the prompt.
    # https://platform.minimax.io/docs/api-reference/text-openai-api
    "minimax": Preset(
        "minimax", "MiniMax", "openai",
        {
            "international": "https://api.minimax.io/v1",
            "china": "https://api.minimaxi.com/v1",
        },
        "MiniMax-M2", "prompt",
        "https://platform.minimax.io/docs/api-reference/text-openai-api",
    ),
    # Volcengine Ark v3, Bearer ARK_API_KEY; the model is usually an endpoint id (ep-...),
    # model ids such as doubao-seed-1-6 are accepted too.
    # https://www.volcengine.com/docs/82379/1263482
    "doubao": Preset(
        "doubao", "ByteDance Doubao (Volcengine Ark)", "openai",
        {"international": "https://ark.cn-beijing.volces.com/api/v3"},
        "doubao-seed-1-6", "json_object",
        "https://www.volcengine.com/docs/82379/1263482",
    ),
    # Local; the SDK needs some key value, Ollama ignores it. JSON schema via response_format.
    # https://docs.ollama.com/api/openai-compatibility
    "ollama": Preset(
        "ollama", "Ollama (local)", "openai",
        {"international": "http://127.0.0.1:11434/v1"},
        "qwen2.5-coder:7b", "json_schema",
        "https://docs.ollama.com/api/openai-compatibility",
        needs_key=False, local=True,
    ),
    # Any OpenAI-compatible endpoint (vLLM, LM Studio, OpenRouter, ...) at LLM_BASE_URL;
    # with AZURE_API_VERSION set it is Azure OpenAI: LLM_BASE_URL is the resource endpoint,
    # LLM_MODEL the deployment, the key goes in the api-key header.
    # https://learn.microsoft.com/en-us/azure/ai-services/openai/reference
    "openai_compatible": Preset(
        "openai_compatible", "OpenAI-compatible endpoint / Azure OpenAI", "openai",
        {}, None, "json_schema",
        "https://learn.microsoft.com/en-us/azure/ai-services/openai/reference",
        needs_key=False,
    ),
}

assert set(PRESETS) == set(KNOWN_PROVIDERS), "every known provider needs a preset"
