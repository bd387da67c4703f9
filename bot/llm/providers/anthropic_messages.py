"""Anthropic Claude through the official ``anthropic`` SDK (Messages API). The only module
that imports it. Structured output is a forced tool call whose input schema is the answer
schema; a plain JSON text answer is accepted too."""

from __future__ import annotations

import json
import logging
from typing import Any

import anthropic
import httpx2

from bot.llm.providers.base import error_message, rate_info, retry_after_s
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

API_VERSION = "2023-06-01"


class AnthropicProvider:
    def __init__(
        self,
        *,
        name: str,
        model: str,
        base_url: str,
        api_key: str | None,
        structured: StructuredMode,
        timeout_s: float,
    ) -> None:
        self.name = name
        self.model = model
        self.base_url = base_url
        self.structured: StructuredMode = structured
        # The documented contract (https://docs.anthropic.com/en/api/messages): the key in
        # x-api-key and a pinned anthropic-version. This SDK generation defaults to a Bearer
        # header and its own newest version; pinning keeps the request shape we validate
        # (the API keeps a version's behaviour stable) and works with Anthropic-compatible
        # gateways that only know x-api-key.
        self._client = anthropic.AsyncAnthropic(
            base_url=base_url,
            api_key=api_key or "",
            timeout=timeout_s,
            max_retries=0,
            default_headers={
                "x-api-key": api_key or "",
                "anthropic-version": API_VERSION,
                "Authorization": anthropic.Omit(),  # type: ignore[dict-item]
            },
        )

    async def aclose(self) -> None:
        await self._client.close()

    def downgrade(self) -> bool:
        if self.structured == "tool":
            self.structured = "prompt"
            return True
        return False

    def _arguments(self, call: ProviderCall) -> dict[str, Any]:
        system = call.system
        use_tool = call.json_schema is not None and self.structured == "tool"
        if call.json_schema is not None and not use_tool:
            system = f"{system}\n\n{schema_instructions(call.json_schema)}"
        arguments: dict[str, Any] = {
            "model": self.model,
            "max_tokens": call.max_output_tokens,
            # No temperature: this SDK generation's Messages API has no sampling parameters.
            # The system prompt, then the review's shared part, repeat for every chunk of a
            # review: the breakpoint after them caches that prefix (tools come first in
            # Anthropic's order, so the answer schema is part of it). The shared part is
            # untrusted: it stays in the user turn, never in the system prompt.
            "system": [_system_block(system, marked=not call.shared)],
            "messages": [{"role": "user", "content": _user_content(call)}],
        }
        if use_tool and call.json_schema is not None:
            arguments["tools"] = [
                {
                    "name": call.schema_name,
                    "description": "Report the answer in this exact structure.",
                    "input_schema": call.json_schema,
                }
            ]
            arguments["tool_choice"] = {"type": "tool", "name": call.schema_name}
        return arguments

    async def complete(self, call: ProviderCall) -> ProviderReply:
        arguments = self._arguments(call)
        try:
            if call.stream:
                return await self._stream(arguments, call)
            raw = await self._client.messages.with_raw_response.create(**arguments)
            message = await raw.parse()
        except anthropic.APIStatusError as exc:
            raise _classify_status(exc) from exc
        except anthropic.APITimeoutError as exc:
            raise TransientError("timed out") from exc
        except anthropic.APIConnectionError as exc:
            raise TransientError(f"connection failed: {exc.__cause__ or exc}") from exc
        except anthropic.APIResponseValidationError as exc:
            raise TransientError("malformed response body") from exc
        texts: list[str] = []
        for block in message.content:
            if block.type == "tool_use":
                texts = [json.dumps(block.input)]
                break
            if block.type == "text":
                texts.append(block.text)
        return ProviderReply(
            text="".join(texts),
            usage=_usage(message.usage),
            model=message.model or self.model,
            finish_reason=message.stop_reason,
            rate=rate_info(raw.headers),
        )

    async def _stream(self, arguments: dict[str, Any], call: ProviderCall) -> ProviderReply:
        text_parts: list[str] = []
        tool_parts: list[str] = []
        usage = Usage()
        output_tokens = 0
        stop_reason: str | None = None
        finished = False
        model = self.model
        stream = await self._client.messages.create(**arguments, stream=True)
        try:
            async for event in stream:
                if event.type == "message_start":
                    model = event.message.model or model
                    usage = _usage(event.message.usage)
                elif event.type == "content_block_delta":
                    if event.delta.type == "text_delta":
                        text_parts.append(event.delta.text)
                        if call.on_text is not None:
                            call.on_text(event.delta.text)
                    elif event.delta.type == "input_json_delta":
                        # The forced tool call's JSON is the answer: the caller's progress
                        # view sees it like the text deltas of the other protocol.
                        tool_parts.append(event.delta.partial_json)
                        if call.on_text is not None:
                            call.on_text(event.delta.partial_json)
                elif event.type == "message_delta":
                    output_tokens = event.usage.output_tokens
                    stop_reason = event.delta.stop_reason
                elif event.type == "message_stop":
                    finished = True
        except anthropic.APIStatusError as exc:
            raise _classify_status(exc) from exc
        except (anthropic.APIError, httpx2.TransportError, OSError) as exc:
            # Unlike the openai SDK, this one lets the transport's error through unwrapped
            # when the connection is cut mid-stream.
            raise TransientError(f"stream broke off: {type(exc).__name__}") from exc
        finally:
            await stream.close()
        if not finished:
            raise TransientError("stream ended before message_stop")
        text = "".join(tool_parts) if tool_parts else "".join(text_parts)
        usage = Usage(usage.input_tokens, output_tokens, usage.cached_tokens,
                      usage.cache_write_tokens)
        return ProviderReply(text, usage, model, stop_reason, rate_info(stream.response.headers))


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    read = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
    written = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
    # Anthropic's input_tokens excludes cache reads and writes; ours counts every prompt token.
    return Usage(
        input_tokens=int(usage.input_tokens or 0) + read + written,
        output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
        cached_tokens=read,
        cache_write_tokens=written,
    )


def _system_block(system: str, *, marked: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": system}
    if marked:
        block["cache_control"] = {"type": "ephemeral"}
    return block


def _user_content(call: ProviderCall) -> str | list[dict[str, Any]]:
    """The user turn; with a shared part, two blocks with the cache breakpoint after the
    shared one (without, the breakpoint is on the system prompt's block)."""
    if not call.shared:
        return call.user
    return [
        {"type": "text", "text": call.shared, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": call.user},
    ]


def _classify_status(exc: anthropic.APIStatusError) -> Exception:
    status = exc.status_code
    message = error_message(exc.body, str(exc.message))
    if status in (408, 409, 429) or status >= 500:
        headers = exc.response.headers
        return TransientError(
            f"HTTP {status}: {message}", retry_after=retry_after_s(headers),
            rate=rate_info(headers),
        )
    return PermanentError(f"HTTP {status}: {message}")
