"""Prometheus metrics: `GET /metrics`. Each part defines its own counters beside its code
and registers them in the default registry; this module serves them."""

from __future__ import annotations

import functools
import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "auditbot_http_requests_total", "HTTP requests answered", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "auditbot_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts answers by route template (never the raw path: ids would explode cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            HTTP_REQUESTS.labels(template, scope["method"], str(status)).inc()
            HTTP_LATENCY.labels(template).observe(time.perf_counter() - started)


@functools.lru_cache(maxsize=256)
def _requests(template: str, method: str, status: int) -> Counter:
    """The labelled child, looked up once per label set (labels() takes a lock)."""
    return HTTP_REQUESTS.labels(template, method, str(status))


@functools.lru_cache(maxsize=64)
def _latency(template: str) -> Histogram:
    return HTTP_LATENCY.labels(template)


INTERNAL_ERROR = (
    b'{"type":"about:blank","title":"Internal Server Error","status":500,'
    b'"detail":"the server could not complete the request"}'
)


class MeasuredEndpoint:
    """One fast-lane endpoint with what the middleware stack gives every other route: the
    request counted and timed under its path, and an exception answered with a one-line
    500 problem (then re-raised, so the server logs the traceback)."""

    def __init__(self, template: str, app: ASGIApp) -> None:
        self.template = template
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            log.error("unhandled %s on %s", type(exc).__name__, self.template)
            if status == 500:  # nothing sent yet
                await send_wrapper(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(INTERNAL_ERROR)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": INTERNAL_ERROR})
            raise
        finally:
            _requests(self.template, "POST", status).inc()
            _latency(self.template).observe(time.perf_counter() - started)
