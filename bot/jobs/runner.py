"""arq's Worker as auditbot runs it: it holds its jobs on a short lease, rides out a Redis
outage and may retire itself.

arq marks a running job with an in-progress key (``arq:in-progress:<job id>``) that other
workers respect, and leaves the job in the queue until it ends; the key expires
``job_timeout + 10`` s after the start, so the job of a worker killed with SIGKILL (or lost
with its machine) stayed "in progress" for ~15 minutes at the default JOB_TIMEOUT_S.
:class:`AuditWorker` sets the key for ``JOB_LEASE_S`` only and renews it every third of that
for every job it is running (as the leased locks in ``bot/forges/locks.py`` do): a dead
worker's job is taken by another worker within about ``JOB_LEASE_S``, a live worker's never.

arq's own loop ends the process at the first Redis error of a poll (a restart, a failover, a
network blip), and a job that finished meanwhile loses its result. :class:`AuditWorker`
keeps polling with a backoff while Redis is away, keeps its running jobs, writes their
results once Redis answers again (renewing their leases first: a lease that ran out during
the outage is taken back at once), and gives up only when Redis stays away longer than
``REDIS_OUTAGE_LIMIT_S`` (:class:`RedisGone`, so a supervisor restarts the process). With
``WORKER_MAX_JOBS`` it takes no new job after that many, finishes those it holds and exits
cleanly: a supervisor starts a fresh process (a cap on memory growth).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from arq.constants import in_progress_key_prefix
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from bot.errors import Unavailable

log = logging.getLogger(__name__)

# What a Redis that is away raises (a refused or reset connection, a timeout).
REDIS_AWAY: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
# ... and what a command under WATCH raises then (redis-py turns the ConnectionError into it).
REDIS_AWAY_WATCHING: tuple[type[BaseException], ...] = (*REDIS_AWAY, WatchError)
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 5.0
LEASE_BEATS = 3  # renewals per lease: a missed beat or two still keeps the job

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
        job_lease_s: float = 30.0, **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.redis_outage_limit_s = redis_outage_limit_s
        self.max_jobs_total = max_jobs_total
        self.retiring = False
        self._away_since: float | None = None
        self._backoff_s = BACKOFF_FIRST_S
        # arq sets the in-progress key for this long when it starts a job (start_jobs).
        self.job_lease_s = job_lease_s
        self.in_progress_timeout_s = job_lease_s
        # Jobs whose end is written (their in-progress key deleted, or kept for a cron job):
        # never renewed again, or a renewal racing the end would bring the key back.
        self._lease_ended: set[str] = set()
        self._lease_lock = asyncio.Lock()
        self._renew_now = asyncio.Event()

    async def main(self) -> None:
        keeper = asyncio.create_task(self._keep_leases())
        try:
            await super().main()
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

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
        before = {job_id: self.tasks.get(job_id.decode()) for job_id in job_ids}
        try:
            await super().start_jobs(job_ids)
        except REDIS_AWAY_WATCHING as exc:
            # arq takes a job slot (job_counter, sem) before it checks a job under WATCH
            # and gives it back on every path but a Redis error: without this, each outage
            # that hit a check would leave the worker a slot short, for good.
            self.job_counter -= 1
            self.sem.release()
            if isinstance(exc, WatchError):
                # The check's WATCH lost its connection (redis-py says WatchError, not
                # ConnectionError; a WATCH that saw a change is handled inside arq).
                raise RedisConnectionError(f"Redis went away while a job was checked: {exc}") \
                    from exc
            raise
        finally:
            # A job this worker ran before (a retry) and starts again is renewed again.
            for job_id, task in before.items():
                if self.tasks.get(job_id.decode()) is not task:
                    self._lease_ended.discard(job_id.decode())

    # Leases ---------------------------------------------------------------------------

    def held_jobs(self) -> list[str]:
        """The jobs this worker runs whose end is not written yet."""
        return [
            job_id for job_id, task in self.tasks.items()
            if not task.done() and job_id not in self._lease_ended
        ]

    async def renew_leases(self) -> int:
        """Start the lease of every job this worker holds again; returns how many."""
        if self._pool is None:
            return 0
        async with self._lease_lock:
            self._lease_ended.intersection_update(self.tasks)
            held = self.held_jobs()
            if not held:
                return 0
            lease_ms = int(self.job_lease_s * 1000)
            async with self.pool.pipeline(transaction=False) as pipe:
                for job_id in held:
                    # SET, not PEXPIRE: a lease that ran out while Redis was away is taken
                    # back (if another worker took the job meanwhile, it holds the key too,
                    # and the task's lifecycle keeps the two runs from publishing twice).
                    pipe.set(in_progress_key_prefix + job_id, b"1", px=lease_ms)
                await pipe.execute()
            return len(held)

    async def _keep_leases(self) -> None:
        """The heartbeat: every third of the lease; while Redis is away every
        ``BACKOFF_FIRST_S`` (and at once when a poll finds it back), so that a lease that ran
        out during an outage is taken back before another worker's poll takes the job."""
        beat_s = self.job_lease_s / LEASE_BEATS
        wait_s = beat_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._renew_now.wait(), wait_s)
            self._renew_now.clear()
            try:
                await self.renew_leases()
            except REDIS_AWAY as exc:
                if wait_s == beat_s:
                    log.info("could not renew the leases of running jobs (%s); trying every "
                             "%.1f s", exc, BACKOFF_FIRST_S)
                wait_s = BACKOFF_FIRST_S
            else:
                wait_s = beat_s

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
            self._renew_now.set()  # leases first: one may have run out during the outage
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
        async def write() -> None:
            async with self._lease_lock:
                await super(AuditWorker, self).finish_job(job_id, *args)
                self._lease_ended.add(job_id)

        await self._until_redis_answers(write, f"recording the end of job {job_id}")

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        async def write() -> None:
            async with self._lease_lock:
                await super(AuditWorker, self).finish_failed_job(job_id, result_data)
                self._lease_ended.add(job_id)

        await self._until_redis_answers(write, f"recording the failure of job {job_id}")
