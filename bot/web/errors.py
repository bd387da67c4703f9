"""The one place where exceptions become HTTP answers: RFC 9457 problem details for the
API and other clients, an HTML page (with the navigation) for a browser asking for a page."""

from __future__ import annotations

import logging
import socket

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.errors import AuditbotError, BadInput, NotFound, RetryLater, Unavailable
from bot.preflight import database_problem, redis_problem
from bot.store.schema import MIGRATE, schema_missing

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
          415: "Unsupported Media Type", 422: "Unprocessable Content",
          429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
# Paths whose answers are for programs, whatever the Accept header says.
MACHINE_PREFIXES = ("/api/", "/webhooks/", "/openapi.json", "/healthz", "/readyz", "/metrics")


def wants_page(request: Request) -> bool:
    """A browser navigating (it asks for text/html) to anything but the API."""
    if request.url.path.startswith(MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


async def error_page(request: Request, status: int, detail: str | None) -> Response:
    # Imported here: the pages import the API's access rules, which import this module.
    from bot.web.pages.errors import render_error

    return await render_error(request, status, TITLES.get(status, "Error"), detail)


def problem(status: int, title: str, detail: str | None = None, **extra: object) -> JSONResponse:
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_page(request):
        response = await error_page(request, exc.status_code, exc.detail or None)
    else:
        response = problem(exc.status_code, TITLES.get(exc.status_code, "Error"),
                           exc.detail or None)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def auditbot_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuditbotError)
    if wants_page(request) and isinstance(exc, NotFound | BadInput):
        return await error_page(request, 404 if isinstance(exc, NotFound) else 400, exc.message)
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


# A client may try again this many seconds after a 503 for a database or Redis outage.
OUTAGE_RETRY_AFTER_S = 10


async def service_error(request: Request, exc: Exception) -> Response:
    """The database or Redis is down, refuses us, or the schema is missing: 503 with
    Retry-After (the operator's log says which and why; the client is told only what);
    anything else these libraries raise is a 500 as before."""
    settings = request.app.state.settings
    cause: Unavailable | None = None
    what = "the database"
    if isinstance(exc, RedisError):
        cause, what = redis_problem(exc, settings.redis_url), "Redis"
    elif isinstance(exc, SQLAlchemyError | ConnectionError | socket.gaierror):
        # A bare socket error here is asyncpg's connect (SQLAlchemy does not wrap it); other
        # OSErrors (a file, a timeout elsewhere) are not the database's and stay 500s.
        cause = database_problem(exc, settings.database_url)
    if cause is None and schema_missing(exc):
        log.warning("database schema missing on %s (%s): %s", request.url.path, MIGRATE, exc)
        detail = "the database is not set up for this version of auditbot yet"
    elif cause is not None:
        log.warning("%s unavailable on %s: %s", what, request.url.path, cause)
        detail = f"{what} does not answer; try again later"
    else:
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
        return await unhandled(request, exc)
    if wants_page(request):
        response = await error_page(request, 503, detail)
    else:
        response = problem(503, "Service Unavailable", detail)
    response.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_S)
    return response


async def unhandled(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware calls this for any uncaught exception, then re-raises
    # it so the server logs the traceback; the client sees one JSON line, never internals.
    log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
    if wants_page(request):
        return await error_page(request, 500, "Something went wrong on our side. Try again.")
    return problem(500, "Internal Server Error", "the server could not complete the request")


EXCEPTION_HANDLERS = {
    HTTPException: http_exception,
    AuditbotError: auditbot_error,
    # A stopped database or Redis raises these (OSError: asyncpg's refused connection).
    RedisError: service_error,
    SQLAlchemyError: service_error,
    OSError: service_error,
    Exception: unhandled,
}
