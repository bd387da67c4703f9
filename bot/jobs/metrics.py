"""What the workers do, for Prometheus: jobs by function and outcome, their duration, the
queue's depth, the age of its oldest waiting job and the jobs running (read from Redis at
each scrape, by the worker's exporter and the web's ``/metrics``), findings by severity;
and the small HTTP server that serves them from a worker (``auditbot worker
--metrics-port``).

Several workers on one host either listen on a port each, or share one port and one
``PROMETHEUS_MULTIPROC_DIR``: then each process writes its figures to that folder
(prometheus_client's multiprocess mode), every worker on the port answers with the sum
over all of them, and the kernel spreads scrapes across the listeners (``SO_REUSEPORT``).
The queue's figures are read from Redis at each scrape, so every process agrees on them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar
from wsgiref.simple_server import WSGIRequestHandler, make_server

from arq import Retry
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from bot.findings import Finding
from bot.jobs.contracts import QUEUE_NAME
from bot.jobs.queue_figures import read_queue

log = logging.getLogger(__name__)

JOBS = Counter("auditbot_jobs_total", "Jobs run, by function and outcome", ["function", "outcome"])
JOB_DURATION = Histogram(
    "auditbot_job_duration_seconds",
    "Time a job ran, by function (each try on its own)",
    ["function"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800),
)
FINDINGS = Counter(
    "auditbot_findings_total", "Findings reported by audits, by severity", ["severity"]
)
FINDINGS_COUNTED_PREFIX = "auditbot:findings-counted"
# What a job's return value says about how it ended; any other value is a success.
_RESULTS = {"failed": "failed", "cancelled": "cancelled", "skipped": "skipped"}

R = TypeVar("R")


def measured(function: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """``function`` counted in ``auditbot_jobs_total`` and timed; arq sees the same name."""
    name = function.__name__

    @functools.wraps(function)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> R:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await function(ctx, *args, **kwargs)
            outcome = _RESULTS.get(result, "succeeded") if isinstance(result, str) else "succeeded"
            return result
        except Retry:
            outcome = "retried"
            raise
        except asyncio.CancelledError:
            outcome = "interrupted"  # aborted, or past JOB_TIMEOUT_S
            raise
        finally:
            JOBS.labels(name, outcome).inc()
            JOB_DURATION.labels(name).observe(time.perf_counter() - started)

    return run


# Longer than any job's tries last (MAX_TRIES, each deferred at most a rate limit's reset).
FINDINGS_COUNTED_TTL_S = 7 * 24 * 3600


async def count_findings(
    redis: AsyncRedis, *, task_id: str, head_sha: str | None, findings: Iterable[Finding]
) -> bool:
    """Count one audit's findings in ``auditbot_findings_total``, once per task and head:
    the job may run again after this point (arq's Retry when publishing must wait, or a
    worker that died) and find the same findings, which must not count twice. The mark is
    in Redis, so a retry on another worker sees it. False when they were counted before
    (or Redis did not answer: then the retry that its absence brings counts them)."""
    key = f"{FINDINGS_COUNTED_PREFIX}:{task_id}:{head_sha or '-'}"
    try:
        first = await redis.set(key, b"1", nx=True, ex=FINDINGS_COUNTED_TTL_S)
    except (RedisError, OSError) as exc:
        log.warning("findings of task %s not counted: Redis did not answer: %s", task_id, exc)
        return False
    if not first:
        return False
    for finding in findings:
        FINDINGS.labels(finding.severity.value).inc()
    return True


class QueueCollector(Collector):
    """The queue as Redis holds it at scrape time (arq keeps a job in its sorted set, scored
    by when it may run, until the job ends; a running job also has its in-progress key)."""

    def __init__(self, redis: Redis, queue: str = QUEUE_NAME) -> None:
        self._redis = redis
        self._queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            figures = read_queue(self._redis, self._queue)
        except (RedisError, OSError) as exc:
            log.warning("metrics: Redis did not answer for the queue's figures: %s", exc)
            return
        yield from figures.families()


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""


class Exporter:
    """``/metrics`` of this process (or of every process writing to ``multiproc_dir``)
    on ``host:port``, served from a thread; it reads the queue with its own Redis client."""

    def __init__(
        self, redis_url: str, host: str, port: int, multiproc_dir: str | None = None
    ) -> None:
        self._redis = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        registry = CollectorRegistry(auto_describe=False)
        if multiproc_dir:
            MultiProcessCollector(registry, path=multiproc_dir)  # type: ignore[no-untyped-call]
        else:
            registry.register(REGISTRY)
        registry.register(QueueCollector(self._redis))

        class Server(ThreadingWSGIServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            # Workers sharing a multiprocess folder all answer with the same sums.
            allow_reuse_port = multiproc_dir is not None

        try:
            self._server = make_server(
                host, port, make_wsgi_app(registry), Server, handler_class=_Quiet
            )
        except OSError:
            self._redis.close()
            raise
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._redis.close()
