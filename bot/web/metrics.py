"""Prometheus metrics: `GET /metrics`. Each part defines its own counters beside its code
and registers them in the default registry; this module serves them.

`auditbot serve --workers N` (N > 1) runs N web processes on one port and puts a folder of
its own in ``PROMETHEUS_MULTIPROC_DIR`` before it starts them: prometheus_client then keeps
each process's counters and histograms in files there (its multiprocess mode), and
whichever process takes a scrape answers with the sum over all of them, those of processes
that have ended included. Figures read from Redis at scrape time (the queue's, the disabled
GitLab hooks) are built per scrape and served once, never kept in a ``Gauge``: in that
mode a gauge would be one series per process (or a sum of them). A ``Gauge`` added to the
web must say which of its ``multiprocess_mode`` applies."""

from __future__ import annotations

import atexit
import functools
import logging
import os
import time
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.jobs.contracts import GITLAB_DISABLED_HOOKS_KEY
from bot.jobs.queue_figures import aread_queue

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


MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


@functools.cache
def process_figures() -> CollectorRegistry:
    """What the web processes counted: this process's own registry, or, when
    ``PROMETHEUS_MULTIPROC_DIR`` is set (by `auditbot serve --workers N`), the sum over
    every process writing there (without the ``process_*`` and ``python_*`` collectors,
    which describe one process)."""
    folder = os.environ.get(MULTIPROC_DIR)
    if not folder:
        return REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    return registry


def forget_at_exit() -> None:
    """In multiprocess mode, drop this process's live gauges from the folder when it exits
    (prometheus_client's ``mark_process_dead``); its counters stay in the sums."""
    folder = os.environ.get(MULTIPROC_DIR)
    if folder:
        atexit.register(mark_process_dead, os.getpid(), folder)


class _Snapshot(Collector):
    """Figures read for one scrape."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self._families = families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return iter(self._families)


async def metrics(request: Request) -> Response:
    redis = request.app.state.redis
    read_now = CollectorRegistry(auto_describe=False)
    try:
        # The queue as Redis holds it now, as the workers' exporter serves it: every
        # process agrees, and a web process is scraped whether or not workers export.
        families = (await aread_queue(redis)).families()
        families.append(GaugeMetricFamily(
            "auditbot_gitlab_hooks_disabled",
            "GitLab project webhooks that GitLab disabled after failures "
            "(the reconciler's last look)",
            value=await redis.hlen(GITLAB_DISABLED_HOOKS_KEY),
        ))
        read_now.register(_Snapshot(families))
    except (RedisError, OSError) as exc:  # the scrape still answers; /readyz says why
        log.info("queue figures and disabled GitLab hooks not read: %s", exc)
    return Response(
        generate_latest(process_figures()) + generate_latest(read_now),
        media_type=CONTENT_TYPE_LATEST,
    )


class StatusRecorder:
    """A `send` that remembers the status it passed on (500 until a response starts)."""

    __slots__ = ("_send", "started", "status")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
        await self._send(message)


def record(template: str, method: str, status: int, started: float) -> None:
    """Count and time one answer under its route template."""
    _requests(template, method, status).inc()
    _latency(template).observe(time.perf_counter() - started)


@functools.lru_cache(maxsize=256)
def _requests(template: str, method: str, status: int) -> Counter:
    """The labelled child, looked up once per label set (labels() takes a lock)."""
    return HTTP_REQUESTS.labels(template, method, str(status))


@functools.lru_cache(maxsize=64)
def _latency(template: str) -> Histogram:
    return HTTP_LATENCY.labels(template)


class MetricsMiddleware:
    """Counts answers by route template (never the raw path: ids would explode cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        recorder = StatusRecorder(send)
        try:
            await self.app(scope, receive, recorder)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            record(template, scope["method"], recorder.status, started)


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
        recorder = StatusRecorder(send)
        try:
            await self.app(scope, receive, recorder)
        except Exception as exc:
            log.error("unhandled %s on %s", type(exc).__name__, self.template)
            if not recorder.started:
                await recorder(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(INTERNAL_ERROR)).encode()),
                        ],
                    }
                )
                await recorder({"type": "http.response.body", "body": INTERNAL_ERROR})
            raise
        finally:
            record(self.template, scope["method"], recorder.status, started)
