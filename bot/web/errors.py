"""The one place where exceptions become HTTP answers: RFC 9457 problem details."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.errors import AuditbotError, BadInput, NotFound, RetryLater

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str | None = None, **extra: object) -> JSONResponse:
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
              405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
              415: "Unsupported Media Type", 422: "Unprocessable Content",
              429: "Too Many Requests", 503: "Service Unavailable"}
    response = problem(exc.status_code, titles.get(exc.status_code, "Error"), exc.detail or None)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def auditbot_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuditbotError)
    if isinstance(exc, NotFound):
        return problem(404, "Not Found", exc.message)
    if isinstance(exc, BadInput):
        return problem(400, "Bad Request", exc.message)
    if isinstance(exc, RetryLater):
        response = problem(503, "Service Unavailable", exc.message)
        response.headers["Retry-After"] = str(max(1, int(exc.retry_after)))
        return response
    log.error("unhandled auditbot error on %s: %s", request.url.path, exc)
    return problem(500, "Internal Server Error", "the server could not complete the request")


async def unhandled(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware calls this for any uncaught exception, then re-raises
    # it so the server logs the traceback; the client sees one JSON line, never internals.
    log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
    return problem(500, "Internal Server Error", "the server could not complete the request")


EXCEPTION_HANDLERS = {
    HTTPException: http_exception,
    AuditbotError: auditbot_error,
    Exception: unhandled,
}
