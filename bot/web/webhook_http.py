"""The HTTP edge of the webhook endpoints, at the ASGI level: bounded body reading,
constant-time checks of signatures and tokens on the raw bytes, one-line JSON answers.

The endpoints are plain ASGI apps (no Request or Response objects): a delivery is answered in
well under a millisecond, and at that size the framework's per-request objects show.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
from starlette.types import Receive, Scope, Send

PROBLEM_JSON = b"application/problem+json"
JSON = b"application/json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    413: "Content Too Large",
    503: "Service Unavailable",
}


class BodyTooLarge(Exception):
    """The body passed the size limit while it was being read."""


class Disconnected(Exception):
    """The sender hung up before its body arrived."""


class Answer(NamedTuple):
    status: int
    body: bytes
    content_type: bytes = JSON
    retry_after: bytes | None = None

    async def send(self, send: Send) -> None:
        headers = [
            (b"content-type", self.content_type),
            (b"content-length", str(len(self.body)).encode()),
        ]
        if self.retry_after is not None:
            headers.append((b"retry-after", self.retry_after))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def answer(status: int, body: dict[str, Any]) -> Answer:
    return Answer(status, orjson.dumps(body))


def problem(status: int, detail: str, *, retry_after: str | None = None) -> Answer:
    """RFC 9457 problem details on one line."""
    body = {"type": "about:blank", "title": _TITLES[status], "status": status, "detail": detail}
    return Answer(
        status,
        orjson.dumps(body),
        PROBLEM_JSON,
        retry_after.encode() if retry_after is not None else None,
    )


def header_map(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by lower-case name (ASGI servers lower-case them)."""
    return dict(scope["headers"])


def declared_too_large(headers: dict[bytes, bytes], limit: int) -> bool:
    """A Content-Length over the limit: refuse before reading a byte."""
    declared = headers.get(b"content-length")
    return declared is not None and declared.isdigit() and int(declared) > limit


async def read_body(receive: Receive, limit: int) -> bytes:
    """The body, read message by message and abandoned as soon as it passes ``limit`` bytes
    (a chunked upload has no Content-Length to refuse it by)."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def github_signature_ok(body: bytes, header: bytes, secrets: Sequence[bytes]) -> bool:
    """``X-Hub-Signature-256`` is ``sha256=`` + hex HMAC-SHA256 of the raw body under one of
    ``secrets`` (the current one, then the previous one during a rotation)."""
    given = header.strip()
    ok = False
    for secret in secrets:
        expected = b"sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
        # No early exit: each secret costs the same whether or not an earlier one matched.
        ok |= hmac.compare_digest(expected, given)
    return ok


def token_ok(header: bytes, secret: bytes) -> bool:
    return hmac.compare_digest(header, secret)


def is_json(headers: dict[bytes, bytes]) -> bool:
    media_type = headers.get(b"content-type", b"").partition(b";")[0].strip().lower()
    return media_type == JSON


def text(value: bytes | None) -> str | None:
    """A header value as text (HTTP headers are Latin-1 on the wire)."""
    return value.decode("latin-1") if value is not None else None


def body_digest(body: bytes) -> str:
    """A stand-in delivery id when the sender gave none: identical retries share it."""
    return "sha256-" + hashlib.sha256(body).hexdigest()
