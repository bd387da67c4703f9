"""The HTTP edge of the webhook endpoints: bounded body reading, constant-time checks of
signatures and tokens on the raw bytes, and one-line JSON answers."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from bot.web.errors import PROBLEM_JSON

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    413: "Content Too Large",
    503: "Service Unavailable",
}


class BodyTooLarge(Exception):
    """The body passed the size limit while it was being read."""


def declared_too_large(headers: Headers, limit: int) -> bool:
    """A Content-Length over the limit: refuse before reading a byte."""
    declared = headers.get("content-length")
    return declared is not None and declared.isdigit() and int(declared) > limit


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read chunk by chunk and abandoned as soon as it passes ``limit`` bytes
    (a chunked upload has no Content-Length to refuse it by)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def github_signature_ok(body: bytes, header: str, secrets: Sequence[bytes]) -> bool:
    """``X-Hub-Signature-256`` is ``sha256=`` + hex HMAC-SHA256 of the raw body under one of
    ``secrets`` (the current one, then the previous one during a rotation)."""
    given = header.strip().encode("latin-1")
    ok = False
    for secret in secrets:
        expected = b"sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
        # No early exit: each secret costs the same whether or not an earlier one matched.
        ok |= hmac.compare_digest(expected, given)
    return ok


def token_ok(header: str, secret: bytes) -> bool:
    return hmac.compare_digest(header.encode("latin-1"), secret)


def is_json(headers: Headers) -> bool:
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    return media_type == "application/json"


def answer(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def problem(status: int, detail: str, **headers: str) -> Response:
    """RFC 9457 problem details on one line."""
    body = {"type": "about:blank", "title": _TITLES[status], "status": status, "detail": detail}
    response = Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON)
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def body_digest(body: bytes) -> str:
    """A stand-in delivery id when the sender gave none: identical retries share it."""
    return "sha256-" + hashlib.sha256(body).hexdigest()
