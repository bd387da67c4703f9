"""A fake OpenAI Chat Completions server (the protocol of OpenAI and the eight compatible
presets, Ollama and Azure) for tests, plus the scripted faults and answers it shares with
the fake Anthropic server."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.prompt_cache import PromptCache

# Faults a fake can be told to produce, one per request, in order; then it answers "ok".
FAULTS = (
    "ok", "429", "500", "503", "529", "slow", "drop", "cut_stream", "stall_stream",
    "invalid_json", "wrong_shape", "fenced", "truncated", "bare_list",
)

DEFAULT_FINDINGS: list[dict[str, Any]] = [
    {
        "path": "app/db.py",
        "start_line": 12,
        "end_line": 12,
        "severity": "high",
        "category": "security",
        "cwe": "CWE-89",
        "title": "SQL built from request input",
        "message": "The query concatenates user input; use a parameterised query.",
        "suggestion": "cursor.execute('SELECT * FROM users WHERE id = %s', (user_id,))",
        "quote": "cursor.execute('SELECT * FROM users WHERE id = ' + user_id)",
        "confidence": 0.9,
    },
    {
        "path": "app/views.py",
        "start_line": 40,
        "end_line": 41,
        "severity": "Medium",
        "category": "bug",
        "cwe": None,
        "title": "Missing None check",
        "message": "get() may return None and the next line dereferences it.",
        "suggestion": None,
        "quote": "user = users.get(uid)",
        "confidence": 0.6,
    },
]


class Script:
    """The faults to play, in order; thread-safe because uvicorn runs in its own thread."""

    def __init__(self, faults: list[str] | None = None) -> None:
        for fault in faults or []:
            assert fault in FAULTS, fault
        self._faults: deque[str] = deque(faults or [])
        self._lock = threading.Lock()

    def set(self, faults: list[str]) -> None:
        with self._lock:
            self._faults = deque(faults)

    def next(self) -> str:
        with self._lock:
            return self._faults.popleft() if self._faults else "ok"


def answer_text(fault: str, findings: list[dict[str, Any]]) -> str:
    """The model's text for a content-level fault (or a good answer)."""
    good = json.dumps({"findings": findings})
    if fault == "invalid_json":
        return "I found these problems: {findings: [path = app/db.py"
    if fault == "wrong_shape":
        return json.dumps({"issues": [{"file": "app/db.py", "line": "twelve"}]})
    if fault == "fenced":
        return f"Here is the review.\n```json\n{good}\n```\n"
    if fault == "bare_list":
        return json.dumps(findings)
    if fault == "truncated":
        # Cut in the middle of the last finding, as at the output-token limit.
        complete = json.dumps({"findings": findings})
        return complete[: complete.rfind('"message"') + 15]
    return good


def token_count(text: str) -> int:
    return max(1, len(text) // 4)


class Refused(Exception):
    def __init__(self, status: int, message: str, code: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


# Request fields the Chat Completions API accepts; anything else is refused, as the real
# service refuses an "Unrecognized request argument".
ALLOWED_FIELDS = {
    "model", "messages", "temperature", "max_tokens", "max_completion_tokens",
    "response_format", "stream", "stream_options", "tools", "tool_choice", "top_p", "n",
    "seed", "stop", "user",
}
SCHEMA_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class OpenAIExpect:
    """What one provider's endpoint requires. ``auth`` is "bearer" (Authorization: Bearer
    key), "azure" (api-key header and an api-version query) or "any" (Ollama ignores it)."""

    path: str
    key: str | None
    model: str
    auth: str = "bearer"
    api_version: str | None = None
    max_tokens_field: str = "max_tokens"
    # The real API makes the output limit optional; the fake insists by default, to check
    # that auditbot always bounds its answers (peers in benchmarks may leave it out).
    require_max_tokens: bool = True
    refuse_formats: set[str] = field(default_factory=set)


class FakeOpenAI:
    """An OpenAI Chat Completions endpoint: checks path, auth style and body shape, answers
    with JSON findings, streams SSE with usage, and plays scripted faults.

    Options for economy tests and benchmarks: ``answer`` computes the answer's text from the
    request body (a scripted model); ``delay_s`` makes every answer wait; ``prompt_cache``
    reports cached tokens as the providers' prompt caching would; ``extra_fields`` are
    request fields this endpoint accepts beyond the common ones (OpenAI itself accepts
    ``prompt_cache_key``; most compatible servers refuse it); ``rate_headers`` returns the
    headers to send with each answer (``x-ratelimit-*``).
    """

    def __init__(self, expect: OpenAIExpect, *, findings: list[dict[str, Any]] | None = None,
                 cached_tokens: int = 0, retry_after: str = "0", slow_s: float = 2.0,
                 output_tokens: int | None = None,
                 answer: Callable[[dict[str, Any]], str] | None = None, delay_s: float = 0.0,
                 prompt_cache: PromptCache | None = None,
                 extra_fields: frozenset[str] = frozenset(),
                 rate_headers: Callable[[], dict[str, str]] | None = None) -> None:
        self.expect = expect
        self.answer = answer
        self.delay_s = delay_s
        self.prompt_cache = prompt_cache
        self.extra_fields = extra_fields
        self.rate_headers = rate_headers
        # Every answered request's prompt characters (all messages) and tokens.
        self.prompt_chars = 0
        self.usages: list[dict[str, Any]] = []
        self.script = Script()
        self.findings = DEFAULT_FINDINGS if findings is None else findings
        self.cached_tokens = cached_tokens
        self.retry_after = retry_after
        self.slow_s = slow_s
        # Output tokens to report instead of the text's count: a reasoning model's hidden
        # tokens, or an answer that used all of max_tokens.
        self.output_tokens = output_tokens
        self.requests: list[dict[str, Any]] = []
        # Plain-text answers to give, in order, before falling back to JSON findings (a
        # conversation's answer is prose, not findings).
        self.replies: deque[str] = deque()
        self.refusals: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.app = Starlette(routes=[Route("/{path:path}", self._counted, methods=["GET", "POST"])])

    async def _counted(self, request: Request) -> Response:
        # One event loop serves every request, so plain counters are safe here.
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._handle(request)
        finally:
            self.in_flight -= 1

    async def _handle(self, request: Request) -> Response:
        try:
            body = await self._check(request)
        except Refused as exc:
            self.refusals.append(exc.message)
            return JSONResponse(
                {"error": {"message": exc.message, "type": "invalid_request_error",
                           "param": None, "code": exc.code}},
                status_code=exc.status,
            )
        self.requests.append(body)
        fault = self.script.next()
        if fault == "429":
            return JSONResponse(
                {"error": {"message": "Rate limit reached", "type": "requests",
                           "param": None, "code": "rate_limit_exceeded"}},
                status_code=429, headers={"retry-after": self.retry_after},
            )
        if fault in ("500", "503", "529"):
            return JSONResponse(
                {"error": {"message": "The server had an error", "type": "server_error",
                           "param": None, "code": None}},
                status_code=int(fault),
            )
        if fault == "slow" or (fault == "stall_stream" and not body.get("stream")):
            await asyncio.sleep(self.slow_s)
        if fault == "drop" or (fault == "cut_stream" and not body.get("stream")):
            return StreamingResponse(broken_body(b""), media_type="application/json")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        scripted = self.answer(body) if self.answer is not None and fault == "ok" else None
        if self.replies and fault == "ok":
            scripted = self.replies.popleft()
        content = scripted if scripted is not None else answer_text(fault, self.findings)
        finish = "length" if fault == "truncated" else "stop"
        prompt, cached = self._prompt_tokens(body)
        completion = self.output_tokens or token_count(content)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
        self.usages.append(usage)
        headers = self.rate_headers() if self.rate_headers is not None else None
        model = body.get("model") or self.expect.model
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _sse(model, content, finish, usage if include_usage else None)
            if fault == "cut_stream":
                return StreamingResponse(broken_body(b"".join(events[:2])),
                                         media_type="text/event-stream")
            if fault == "stall_stream":
                return StreamingResponse(stalled_stream(events, 2, self.slow_s),
                                         media_type="text/event-stream")
            return StreamingResponse(event_stream(events), media_type="text/event-stream",
                                     headers=headers)
        return JSONResponse({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "logprobs": None, "finish_reason": finish}],
            "usage": usage,
        }, headers=headers)

    def _prompt_tokens(self, body: dict[str, Any]) -> tuple[int, int]:
        texts = [str(m.get("content", "")) for m in body["messages"]]
        self.prompt_chars += sum(len(t) for t in texts)
        if self.prompt_cache is None:
            prompt = sum(token_count(t) for t in texts)
            return prompt, min(self.cached_tokens, prompt)
        # A structured-output schema is part of the cached prefix, before the messages.
        fmt = body.get("response_format") or {}
        schema = json.dumps(fmt.get("json_schema", {}).get("schema")) if fmt else ""
        parts = [schema, *(f"<|{m['role']}|>{m['content']}" for m in body["messages"])]
        return self.prompt_cache.openai(parts, str(body.get("prompt_cache_key", "")))

    async def _check(self, request: Request) -> dict[str, Any]:
        expect = self.expect
        if request.method != "POST" or request.url.path != expect.path:
            raise Refused(404, f"Invalid URL ({request.method} {request.url.path})", "not_found")
        if expect.auth == "bearer":
            if request.headers.get("authorization") != f"Bearer {expect.key}":
                raise Refused(401, "Incorrect API key provided", "invalid_api_key")
        elif expect.auth == "azure":
            if request.headers.get("api-key") != expect.key:
                raise Refused(401, "Access denied due to invalid subscription key", "401")
            if request.query_params.get("api-version") != expect.api_version:
                raise Refused(404, "Resource not found (api-version)", "404")
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            raise Refused(400, "Content-Type must be application/json")
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise Refused(400, "We could not parse the JSON body of your request.") from None
        if not isinstance(body, dict):
            raise Refused(400, "The body must be a JSON object")
        unknown = set(body) - ALLOWED_FIELDS - self.extra_fields
        if unknown:
            raise Refused(400, f"Unrecognized request argument supplied: {sorted(unknown)[0]}")
        if expect.auth != "azure" and body.get("model") != expect.model:
            raise Refused(404, f"The model `{body.get('model')}` does not exist",
                          "model_not_found")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise Refused(400, "'messages' must be a non-empty array")
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in (
                "system", "user", "assistant", "developer"
            ) or not isinstance(message.get("content"), str):
                raise Refused(400, "Invalid message in 'messages'")
        if expect.require_max_tokens and not isinstance(body.get(expect.max_tokens_field), int):
            raise Refused(400, f"'{expect.max_tokens_field}' is required by this fake")
        other = ({"max_tokens", "max_completion_tokens"} - {expect.max_tokens_field}) & set(body)
        if other:
            raise Refused(400, f"Unsupported parameter: '{other.pop()}'")
        self._check_format(body, messages)
        if "stream_options" in body and not body.get("stream"):
            raise Refused(400, "stream_options is only allowed when stream is true")
        return body

    def _check_format(self, body: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        fmt = body.get("response_format")
        if fmt is None:
            return
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind not in ("text", "json_object", "json_schema"):
            raise Refused(400, "Invalid value for 'response_format.type'")
        if kind in self.expect.refuse_formats:
            raise Refused(400, f"'response_format' of type '{kind}' is not supported")
        if kind == "json_object" and not any(
            "json" in m["content"].lower() for m in messages
        ):
            raise Refused(400, "'messages' must contain the word 'json' in some form, to use "
                               "'response_format' of type 'json_object'.")
        if kind == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or not SCHEMA_NAME.match(str(spec.get("name", ""))):
                raise Refused(400, "Invalid 'response_format.json_schema.name'")
            if not isinstance(spec.get("schema"), dict):
                raise Refused(400, "Missing 'response_format.json_schema.schema'")


def _sse(model: str, content: str, finish: str, usage: dict[str, Any] | None) -> list[bytes]:
    def event(choices: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> bytes:
        chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                 "created": int(time.time()), "model": model, "choices": choices}
        if extra:
            chunk.update(extra)
        return f"data: {json.dumps(chunk)}\n\n".encode()

    pieces = [content[i : i + 40] for i in range(0, len(content), 40)] or [""]
    events = [event([{"index": 0, "delta": {"role": "assistant", "content": ""},
                      "finish_reason": None}])]
    events += [event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
               for piece in pieces]
    events.append(event([{"index": 0, "delta": {}, "finish_reason": finish}]))
    if usage is not None:
        events.append(event([], {"usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return events


async def event_stream(events: list[bytes]) -> AsyncIterator[bytes]:
    for item in events:
        yield item


async def stalled_stream(events: list[bytes], at: int, pause_s: float) -> AsyncIterator[bytes]:
    """Send the first ``at`` events, then go silent for ``pause_s`` (a provider that hangs
    mid-answer with the connection open), then finish."""
    for index, item in enumerate(events):
        if index == at:
            await asyncio.sleep(pause_s)
        yield item


async def broken_body(prefix: bytes) -> AsyncIterator[bytes]:
    """Send ``prefix`` and then drop the connection mid-body (uvicorn aborts it)."""
    if prefix:
        yield prefix
        await asyncio.sleep(0.05)
    raise ConnectionAbortedError("fake: connection cut on purpose")
