"""A fake Anthropic Messages server: checks x-api-key and anthropic-version, the body shape
(max_tokens required, alternating roles, tool definitions), answers with a forced tool call
or JSON text, streams the real event sequence, and plays the shared scripted faults."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.fake_openai import (
    DEFAULT_FINDINGS,
    Script,
    answer_text,
    broken_body,
    event_stream,
    stalled_stream,
    token_count,
)
from tests.fakes.prompt_cache import PromptCache

API_VERSION = "2023-06-01"
ALLOWED_FIELDS = {
    "model", "max_tokens", "messages", "system", "temperature", "tools", "tool_choice",
    "stream", "metadata", "stop_sequences", "top_p", "top_k", "thinking", "service_tier",
}


class Refused(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


class FakeAnthropic:
    def __init__(self, *, key: str, model: str, findings: list[dict[str, Any]] | None = None,
                 answer_as_text: bool = False, cache_read_tokens: int = 0,
                 retry_after: str = "0", slow_s: float = 2.0,
                 output_tokens: int | None = None, prompt_cache: PromptCache | None = None,
                 rate_headers: dict[str, str] | None = None) -> None:
        self.key = key
        # Caching as Anthropic documents it (cache_control breakpoints, 1,024-token minimum);
        # without it, cache_read_tokens is reported as given.
        self.prompt_cache = prompt_cache
        self.rate_headers = rate_headers
        self.model = model
        self.findings = DEFAULT_FINDINGS if findings is None else findings
        self.answer_as_text = answer_as_text
        self.cache_read_tokens = cache_read_tokens
        self.retry_after = retry_after
        self.slow_s = slow_s
        self.output_tokens = output_tokens  # reported instead of the text's count
        self.script = Script()
        self.requests: list[dict[str, Any]] = []
        self.refusals: list[str] = []
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])])

    async def _handle(self, request: Request) -> Response:
        try:
            body = await self._check(request)
        except Refused as exc:
            self.refusals.append(exc.message)
            return _error(exc.status, exc.kind, exc.message)
        self.requests.append(body)
        fault = self.script.next()
        if fault == "429":
            return _error(429, "rate_limit_error", "Number of requests has exceeded your rate "
                          "limit", headers={"retry-after": self.retry_after})
        if fault == "500":
            return _error(500, "api_error", "Internal server error")
        if fault in ("503", "529"):
            return _error(int(fault), "overloaded_error", "Overloaded")
        if fault == "slow" or (fault == "stall_stream" and not body.get("stream")):
            await asyncio.sleep(self.slow_s)
        if fault == "drop" or (fault == "cut_stream" and not body.get("stream")):
            return StreamingResponse(broken_body(b""), media_type="application/json")
        text = answer_text(fault, self.findings)
        tool = body.get("tool_choice", {}).get("name") if body.get("tool_choice") else None
        as_tool = tool is not None and not self.answer_as_text
        if as_tool:
            try:
                tool_input = json.loads(text)
            except ValueError:
                # A forced tool call always carries an object; a broken answer shows as text.
                as_tool = False
            else:
                if not isinstance(tool_input, dict):
                    tool_input = {"items": tool_input}
        prompt = sum(token_count(json.dumps(m["content"])) for m in body["messages"])
        read, written = self.cache_read_tokens, 0
        if self.prompt_cache is not None:
            prompt, read, written = self.prompt_cache.anthropic(_blocks(body))
        usage = {
            "input_tokens": prompt,
            "output_tokens": self.output_tokens or token_count(text),
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        }
        stop = "max_tokens" if fault == "truncated" else ("tool_use" if as_tool else "end_turn")
        if as_tool and fault == "truncated":
            # Anthropic would still send a complete object; the truncation shows as text.
            as_tool, stop = False, "max_tokens"
        block: dict[str, Any] = (
            {"type": "tool_use", "id": "toolu_fake", "name": tool, "input": tool_input}
            if as_tool else {"type": "text", "text": text}
        )
        if body.get("stream"):
            events = _events(body["model"], block, stop, usage)
            if fault == "cut_stream":
                return StreamingResponse(broken_body(b"".join(events[:4])),
                                         media_type="text/event-stream")
            if fault == "stall_stream":
                return StreamingResponse(stalled_stream(events, 4, self.slow_s),
                                         media_type="text/event-stream")
            return StreamingResponse(event_stream(events), media_type="text/event-stream")
        return JSONResponse({
            "id": "msg_fake", "type": "message", "role": "assistant", "model": body["model"],
            "content": [block], "stop_reason": stop, "stop_sequence": None, "usage": usage,
        }, headers=self.rate_headers)

    async def _check(self, request: Request) -> dict[str, Any]:
        if request.method != "POST" or request.url.path != "/v1/messages":
            raise Refused(404, "not_found_error", f"Not found: {request.url.path}")
        if request.headers.get("x-api-key") != self.key:
            raise Refused(401, "authentication_error", "invalid x-api-key")
        if request.headers.get("anthropic-version") != API_VERSION:
            raise Refused(400, "invalid_request_error", "anthropic-version header is required")
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise Refused(400, "invalid_request_error", "body is not JSON") from None
        if not isinstance(body, dict):
            raise Refused(400, "invalid_request_error", "body must be an object")
        unknown = set(body) - ALLOWED_FIELDS
        if unknown:
            raise Refused(400, "invalid_request_error", f"{sorted(unknown)[0]}: Extra inputs "
                          "are not permitted")
        if body.get("model") != self.model:
            raise Refused(404, "not_found_error", f"model: {body.get('model')}")
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
            raise Refused(400, "invalid_request_error", "max_tokens: Field required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or messages[0].get("role") != "user":
            raise Refused(400, "invalid_request_error", "messages: first message must be user")
        for index, message in enumerate(messages):
            if message.get("role") != ("user" if index % 2 == 0 else "assistant"):
                raise Refused(400, "invalid_request_error", "roles must alternate")
            if not isinstance(message.get("content"), str | list):
                raise Refused(400, "invalid_request_error", "content must be text or blocks")
        system = body.get("system")
        if system is not None and not isinstance(system, str) and not (
            isinstance(system, list)
            and all(isinstance(b, dict) and b.get("type") == "text" for b in system)
        ):
            raise Refused(400, "invalid_request_error", "system: must be text blocks")
        names = set()
        for tool in body.get("tools") or []:
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise Refused(400, "invalid_request_error", "tools.input_schema: type object")
            names.add(tool.get("name"))
        choice = body.get("tool_choice")
        if choice is not None and choice.get("type") == "tool" and choice.get("name") not in names:
            raise Refused(400, "invalid_request_error", "tool_choice names an unknown tool")
        return body


def _blocks(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """The prompt in Anthropic's cache order (tools, system, messages): each block's text and
    whether it carries a cache_control breakpoint."""
    out: list[tuple[str, bool]] = [
        (json.dumps(tool), "cache_control" in tool) for tool in body.get("tools") or []
    ]
    system = body.get("system")
    if isinstance(system, str):
        out.append((system, False))
    elif isinstance(system, list):
        out += [(block.get("text", ""), "cache_control" in block) for block in system]
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            out.append((content, False))
            continue
        for block in content:
            out.append((str(block.get("text", "")), "cache_control" in block))
    return out


def _error(status: int, kind: str, message: str,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}},
                        status_code=status, headers=headers)


def _events(model: str, block: dict[str, Any], stop: str, usage: dict[str, Any]) -> list[bytes]:
    def event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    start_usage = dict(usage, output_tokens=1)
    events = [
        event("message_start", {"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage,
        }}),
    ]
    if block["type"] == "tool_use":
        payload = json.dumps(block["input"])
        empty = dict(block, input={})
        events.append(event("content_block_start", {"type": "content_block_start", "index": 0,
                                                    "content_block": empty}))
        deltas = [{"type": "input_json_delta", "partial_json": payload[i : i + 30]}
                  for i in range(0, len(payload), 30)]
    else:
        events.append(event("content_block_start", {"type": "content_block_start", "index": 0,
                                                    "content_block": {"type": "text",
                                                                      "text": ""}}))
        deltas = [{"type": "text_delta", "text": block["text"][i : i + 30]}
                  for i in range(0, len(block["text"]), 30)]
    events.append(event("ping", {"type": "ping"}))
    events += [event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                             "delta": delta}) for delta in deltas]
    events.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(event("message_delta", {
        "type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
        "usage": {"output_tokens": usage["output_tokens"]},
    }))
    events.append(event("message_stop", {"type": "message_stop"}))
    return events
