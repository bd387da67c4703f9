"""The providers auditbot knows: base URL (per region where a provider runs separate China
and international platforms), key variable, default model and the strongest structured-
output mechanism each supports. Each entry cites the provider's own page it was checked
against. Every name in ``bot.config.KNOWN_PROVIDERS`` has an entry.

Rate limits: each preset carries requests and tokens per minute for a new account's lowest
paid tier (as documented in 2026; LLM_REQUESTS_PER_MINUTE / LLM_TOKENS_PER_MINUTE
override them). They are starting points: the limiter follows the provider's own
``x-ratelimit-*`` / ``anthropic-ratelimit-*`` / ``retry-after`` headers once it answers."""

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
    requests_per_minute: int = 60
    tokens_per_minute: int = 400_000

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
        # Free tier of 2.5 Flash (https://ai.google.dev/gemini-api/docs/rate-limits).
        requests_per_minute=10, tokens_per_minute=250_000,
    ),
    # Authorization: Bearer; Structured Outputs (json_schema).
    # https://platform.openai.com/docs/guides/structured-outputs
    "openai": Preset(
        "openai", "OpenAI", "openai",
        {"international": "https://api.openai.com/v1"},
        "gpt-4.1-mini", "json_schema",
        "https://platform.openai.com/docs/api-reference/chat",
        # Tier 1, gpt-4.1-mini (https://platform.openai.com/docs/guides/rate-limits).
        requests_per_minute=500, tokens_per_minute=200_000,
    ),
    # x-api-key + anthropic-version: 2023-06-01 on POST /v1/messages; a forced tool call
    # carries the schema. (claude-sonnet-4-5 reaches end of life on 2026-11-30.) https://docs.anthropic.com/en/api/messages
    "anthropic": Preset(
        "anthropic", "Anthropic Claude", "anthropic",
        {"international": "https://api.anthropic.com"},
        "claude-sonnet-4-6", "tool",
        "https://docs.anthropic.com/en/api/messages",
        # Tier 1, Sonnet 4.x: 50 RPM, 30,000 input + 8,000 output tokens a minute
        # (https://docs.anthropic.com/en/api/rate-limits).
        requests_per_minute=50, tokens_per_minute=38_000,
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
        # Well below qwen-plus's documented 15,000 RPM / 1,200,000 TPM.
        requests_per_minute=600, tokens_per_minute=1_000_000,
    ),
    # base_url https://api.deepseek.com (the /v1 alias also works); JSON Output mode.
    # deepseek-chat is deprecated from 2026-07-24 in favour of deepseek-v4-flash.
    # https://api-docs.deepseek.com/
    "deepseek": Preset(
        "deepseek", "DeepSeek", "openai",
        {"international": "https://api.deepseek.com"},
        "deepseek-v4-flash", "json_object",
        "https://api-docs.deepseek.com/",
        # DeepSeek sets no fixed limit (https://api-docs.deepseek.com/quick_start/rate_limit).
        requests_per_minute=600, tokens_per_minute=5_000_000,
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
        # Z.ai limits concurrency per account level rather than requests a minute.
        requests_per_minute=120, tokens_per_minute=1_000_000,
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
        # Tier 0 (https://platform.moonshot.ai/docs/pricing/limits).
        requests_per_minute=200, tokens_per_minute=500_000,
    ),
    # Qianfan ModelBuilder v2 is OpenAI-compatible: base_url https://qianfan.baidubce.com/v2,
    # Bearer API key (bce-v3/...). https://cloud.baidu.com/doc/WENXINWORKSHOP/s/2m3fihw8s
    "ernie": Preset(
        "ernie", "Baidu ERNIE (Qianfan v2)", "openai",
        {"international": "https://qianfan.baidubce.com/v2"},
        "ernie-4.5-turbo-128k", "json_object",
        "https://cloud.baidu.com/doc/WENXINWORKSHOP/s/2m3fihw8s",
        requests_per_minute=300, tokens_per_minute=300_000,
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
        requests_per_minute=120, tokens_per_minute=500_000,
    ),
    # Volcengine Ark v3, Bearer ARK_API_KEY; the model is usually an endpoint id (ep-...),
    # model ids such as doubao-seed-1-6 are accepted too.
    # https://www.volcengine.com/docs/82379/1263482
    "doubao": Preset(
        "doubao", "ByteDance Doubao (Volcengine Ark)", "openai",
        {"international": "https://ark.cn-beijing.volces.com/api/v3"},
        "doubao-seed-1-6", "json_object",
        "https://www.volcengine.com/docs/82379/1263482",
        # Well below the documented 30,000 RPM / 5,000,000 TPM of doubao-seed-1.6.
        requests_per_minute=1_000, tokens_per_minute=1_000_000,
    ),
    # Local; the SDK needs some key value, Ollama ignores it. JSON schema via response_format.
    # https://docs.ollama.com/api/openai-compatibility
    "ollama": Preset(
        "ollama", "Ollama (local)", "openai",
        {"international": "http://127.0.0.1:11434/v1"},
        "qwen2.5-coder:7b", "json_schema",
        "https://docs.ollama.com/api/openai-compatibility",
        needs_key=False, local=True,
        # The user's own machine: only LLM_CONCURRENCY bounds it.
        requests_per_minute=10_000, tokens_per_minute=100_000_000,
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
