"""arq's Worker as auditbot runs it: it rides out a Redis outage and may retire itself.

arq's own loop ends the process at the first Redis error of a poll (a restart, a failover, a
network blip), and a job that finished meanwhile loses its result. :class:`AuditWorker`
keeps polling with a backoff while Redis is away, keeps its running jobs, writes their
results once Redis answers again, and gives up only when Redis stays away longer than
``REDIS_OUTAGE_LIMIT_S`` (:class:`RedisGone`, so a supervisor restarts the process). With
``WORKER_MAX_JOBS`` it takes no new job after that many, finishes those it holds and exits
cleanly: a supervisor starts a fresh process (a cap on memory growth).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import Unavailable

log = logging.getLogger(__name__)

# What a Redis that is away raises (a refused or reset connection, a timeout).
REDIS_AWAY: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 5.0

T = TypeVar("T")


class RedisGone(Unavailable):
    """Redis stayed away longer than the worker waits for it."""

    def __init__(self, away_s: float, limit_s: float) -> None:
        super().__init__(
            "REDIS_URL",
            f"Redis has not answered for {away_s:.0f} s (REDIS_OUTAGE_LIMIT_S is {limit_s:g})",
            hint="the worker exits so that its supervisor starts it again",
        )


class AuditWorker(Worker):  # type: ignore[misc]  # arq's Worker is untyped here
    def __init__(
        self, *args: Any, redis_outage_limit_s: float = 300.0, max_jobs_total: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.redis_outage_limit_s = redis_outage_limit_s
        self.max_jobs_total = max_jobs_total
        self.retiring = False
        self._away_since: float | None = None
        self._backoff_s = BACKOFF_FIRST_S

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except REDIS_AWAY as exc:
            await self._wait_for_redis(exc)
            return
        self._redis_back()
        self._retire_when_done()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        if self.max_jobs_total > 0:  # one poll reads up to queue_read_limit ids
            job_ids = job_ids[: max(0, self.max_jobs_total - self._jobs_started())]
        await super().start_jobs(job_ids)

    def _retire_when_done(self) -> None:
        """After ``max_jobs_total`` jobs: take no more, finish these, then leave.

        arq's burst mode does exactly that once ``max_burst_jobs`` have started."""
        if self.max_jobs_total <= 0 or self.retiring:
            return
        if self._jobs_started() >= self.max_jobs_total:
            self.retiring = True
            self.burst = True
            self.max_burst_jobs = self._jobs_started()
            log.info("worker took %d jobs (WORKER_MAX_JOBS): finishing them, then exiting",
                     self.max_burst_jobs)

    async def _wait_for_redis(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._away_since is None:
            self._away_since = now
            log.warning("Redis does not answer (%s); jobs keep running, polling again with "
                        "backoff for up to %g s", exc, self.redis_outage_limit_s)
        away = now - self._away_since
        if away > self.redis_outage_limit_s:
            raise RedisGone(away, self.redis_outage_limit_s) from exc
        await asyncio.sleep(self._backoff_s)
        self._backoff_s = min(self._backoff_s * 2, BACKOFF_MAX_S)

    def _redis_back(self) -> None:
        if self._away_since is not None:
            log.warning("Redis answers again after %.1f s", time.monotonic() - self._away_since)
        self._away_since = None
        self._backoff_s = BACKOFF_FIRST_S

    async def _until_redis_answers(self, write: Callable[[], Awaitable[T]], what: str) -> T:
        """``write`` again while Redis is away: a finished job's result or its retry
        must reach the queue, not vanish with the outage."""
        started = time.monotonic()
        backoff = BACKOFF_FIRST_S
        while True:
            try:
                return await write()
            except REDIS_AWAY as exc:
                away = time.monotonic() - started
                if away > self.redis_outage_limit_s:
                    raise RedisGone(away, self.redis_outage_limit_s) from exc
                log.info("Redis away while %s; trying again in %.1f s", what, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def finish_job(self, job_id: str, *args: Any) -> None:
        await self._until_redis_answers(
            lambda: super(AuditWorker, self).finish_job(job_id, *args),
            f"recording the end of job {job_id}",
        )

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        await self._until_redis_answers(
            lambda: super(AuditWorker, self).finish_failed_job(job_id, result_data),
            f"recording the failure of job {job_id}",
        )
