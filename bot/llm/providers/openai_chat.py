"""Every OpenAI-protocol provider (OpenAI, Gemini, Qwen, DeepSeek, GLM, Kimi, ERNIE, MiniMax,
Doubao, Ollama, any compatible endpoint, Azure OpenAI) through the official ``openai`` SDK.
The only module that imports it."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import openai

from bot.llm.providers.base import DOWNGRADE, error_message, rate_info, retry_after_s
from bot.llm.structured import schema_instructions
from bot.llm.types import (
    PermanentError,
    ProviderCall,
    ProviderReply,
    StructuredMode,
    TransientError,
    Usage,
)

log = logging.getLogger(__name__)

# The SDK insists on a key; keyless local servers (Ollama, vLLM) ignore whatever is sent.
PLACEHOLDER_KEY = "not-needed"
REASONING_PREFIXES = ("gpt-5", "o1", "o3", "o4")


class OpenAIChatProvider:
    def __init__(
        self,
        *,
        name: str,
        model: str,
        base_url: str,
        api_key: str | None,
        structured: StructuredMode,
        timeout_s: float,
        azure_api_version: str | None = None,
        max_tokens_field: str = "max_tokens",
        prompt_cache_key: bool = False,
    ) -> None:
        self.name = name
        # OpenAI's own API routes requests with the same key to the same prompt cache;
        # other compatible servers may refuse a field they do not know.
        self._prompt_cache_key = prompt_cache_key
        self.model = model
        self.base_url = base_url
        self.structured: StructuredMode = structured
        self._max_tokens_field = max_tokens_field
        # OpenAI's reasoning models refuse any temperature but the default.
        self._temperature = not model.startswith(REASONING_PREFIXES)
        self._client: openai.AsyncOpenAI
        if azure_api_version:
            # Azure: POST {endpoint}/openai/deployments/{model}/chat/completions?api-version=
            # with the key in the api-key header; the SDK builds both from these arguments.
            self._client = openai.AsyncAzureOpenAI(
                azure_endpoint=base_url,
                api_version=azure_api_version,
                api_key=api_key or PLACEHOLDER_KEY,
                timeout=timeout_s,
                max_retries=0,
            )
        else:
            self._client = openai.AsyncOpenAI(
                base_url=base_url,
                api_key=api_key or PLACEHOLDER_KEY,
                timeout=timeout_s,
                max_retries=0,
            )

    async def aclose(self) -> None:
        await self._client.close()

    def downgrade(self) -> bool:
        """Switch to the next weaker structured-output mechanism; False when none is left."""
        weaker = DOWNGRADE.get(self.structured)
        if weaker is None:
            return False
        log.warning(
            "%s/%s refused %s output; using %s from now on",
            self.name,
            self.model,
            self.structured,
            weaker,
        )
        self.structured = weaker
        return True

    def _arguments(self, call: ProviderCall) -> dict[str, Any]:
        system = call.system
        mode = self.structured if call.json_schema is not None else "prompt"
        if call.json_schema is not None and mode in ("json_object", "prompt", "tool"):
            system = f"{system}\n\n{schema_instructions(call.json_schema)}"
        # The review's shared part opens the user message: the start of every call of one
        # review (schema, system prompt, shared part) is then the same cacheable prefix.
        user = f"{call.shared}\n\n{call.user}" if call.shared else call.user
        arguments: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            self._max_tokens_field: call.max_output_tokens,
        }
        if self._prompt_cache_key:
            prefix = f"{system}\x00{call.shared}".encode("utf-8", "surrogatepass")
            arguments["prompt_cache_key"] = "auditbot-" + hashlib.sha256(prefix).hexdigest()[:32]
        if self._temperature:
            arguments["temperature"] = call.temperature
        if call.json_schema is not None and mode == "json_schema":
            # strict is off: pydantic schemas have optional fields, which strict mode
            # refuses; the answer is validated on our side anyway.
            # Sent as extra_body, which the SDK passes through as is: as a typed argument
            # the SDK walks the whole schema on every call (a tenth of the worker's CPU time
            # in bench/bench_review.py), and the schema is already plain JSON.
            arguments["extra_body"] = {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": call.schema_name,
                        "schema": call.json_schema,
                        "strict": False,
                    },
                }
            }
        elif call.json_schema is not None and mode == "json_object":
            arguments["response_format"] = {"type": "json_object"}
        return arguments

    async def complete(self, call: ProviderCall) -> ProviderReply:
        arguments = self._arguments(call)
        try:
            if call.stream:
                return await self._stream(arguments, call)
            raw = await self._client.chat.completions.with_raw_response.create(**arguments)
            response = raw.parse()
        except openai.APIStatusError as exc:
            raise _classify_status(exc) from exc
        except openai.APITimeoutError as exc:
            raise TransientError("timed out") from exc
        except openai.APIConnectionError as exc:
            raise TransientError(f"connection failed: {exc.__cause__ or exc}") from exc
        except openai.APIResponseValidationError as exc:
            raise TransientError("malformed response body") from exc
        if not response.choices:
            raise TransientError("response without choices")
        choice = response.choices[0]
        return ProviderReply(
            text=choice.message.content or "",
            usage=_usage(response.usage),
            model=response.model or self.model,
            finish_reason=choice.finish_reason,
            rate=rate_info(raw.headers),
        )

    async def _stream(self, arguments: dict[str, Any], call: ProviderCall) -> ProviderReply:
        parts: list[str] = []
        usage = Usage()
        finish: str | None = None
        model = self.model
        stream = await self._client.chat.completions.create(
            **arguments, stream=True, stream_options={"include_usage": True}
        )
        try:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
                for choice in chunk.choices:
                    delta = choice.delta.content if choice.delta else None
                    if delta:
                        parts.append(delta)
                        if call.on_text is not None:
                            call.on_text(delta)
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except openai.APIStatusError as exc:
            raise _classify_status(exc) from exc
        except (openai.APIError, OSError) as exc:
            # The SDK wraps a connection cut mid-stream in APIConnectionError.
            raise TransientError(f"stream broke off: {type(exc).__name__}") from exc
        finally:
            await stream.close()
        if finish is None:
            raise TransientError("stream ended before the answer was complete")
        rate = rate_info(stream.response.headers)
        return ProviderReply("".join(parts), usage, model, finish, rate)


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    cached = 0
    details = getattr(usage, "prompt_tokens_details", None)
    if details is not None and getattr(details, "cached_tokens", None):
        cached = int(details.cached_tokens)
    extra = getattr(usage, "model_extra", None) or {}
    # DeepSeek reports prompt_cache_hit_tokens; Kimi a top-level cached_tokens.
    cached = cached or int(extra.get("prompt_cache_hit_tokens") or extra.get("cached_tokens") or 0)
    return Usage(
        input_tokens=int(usage.prompt_tokens or 0),
        output_tokens=int(usage.completion_tokens or 0),
        cached_tokens=cached,
    )


def _classify_status(exc: openai.APIStatusError) -> Exception:
    status = exc.status_code
    message = error_message(exc.body, str(exc.message))
    if status == 429 or status == 408 or status == 409 or status >= 500:
        headers = exc.response.headers
        return TransientError(
            f"HTTP {status}: {message}", retry_after=retry_after_s(headers),
            rate=rate_info(headers),
        )
    unsupported = status in (400, 422) and any(
        word in message.lower() for word in ("response_format", "json_schema", "json_object")
    )
    return PermanentError(f"HTTP {status}: {message}", unsupported_format=unsupported)
