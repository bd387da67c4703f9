"""The worker process under faults (issue 17): a real redis-server (AOF on, as in
production) stopped and started again under a running worker, jobs held on a renewed lease,
and the job cap. (A worker killed with SIGKILL: tests/e2e/test_github_review.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix
from arq.jobs import Job, JobStatus

from bench.soak_stack import planned_exit
from bot.jobs.runner import AuditWorker, RedisGone
from tests.events.private_redis import PrivateRedis

AOF = ("--appendonly", "yes", "--appendfsync", "always")


async def hold(ctx: dict[str, Any]) -> str:
    """A job that runs until the test lets it finish."""
    ctx["runs"].append(ctx["job_id"])
    ctx["started"].set()
    await ctx["gate"].wait()
    return "done"


async def quick(ctx: dict[str, Any]) -> str:
    return "quick"


def worker_for(url: str, **kwargs: Any) -> AuditWorker:
    ctx = {"started": asyncio.Event(), "gate": asyncio.Event(), "runs": []}
    return AuditWorker(
        functions=[hold, quick], redis_settings=RedisSettings.from_dsn(url), ctx=ctx,
        poll_delay=0.1, handle_signals=False, keep_result=60, **kwargs,
    )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path, *AOF)
    redis.start()
    yield redis
    redis.stop()


async def stop_worker(worker: AuditWorker, running: asyncio.Task[None] | None = None) -> None:
    if running is not None:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    if worker._pool is not None:  # arq's close() calls redis-py's deprecated close()
        await worker.pool.aclose()


@pytest.mark.timeout(90)
async def test_a_worker_rides_out_a_redis_restart_and_keeps_its_job(
    server: PrivateRedis,
) -> None:
    worker = worker_for(server.url, redis_outage_limit_s=60)
    running = asyncio.create_task(worker.async_run())
    client: ArqRedis = await create_pool(RedisSettings.from_dsn(server.url))
    try:
        job = await client.enqueue_job("hold", _job_id="held-over-the-outage")
        assert job is not None
        await asyncio.wait_for(worker.ctx["started"].wait(), 20)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(6)
        assert not running.done()  # arq alone exits at the first failed poll
        worker.ctx["gate"].set()  # the job finishes while Redis is away
        await asyncio.sleep(2)
        await asyncio.to_thread(server.start)  # same port, same AOF file
        assert await Job(job.job_id, client).result(timeout=30, poll_delay=0.2) == "done"
        # And it takes new work.
        later = await client.enqueue_job("quick")
        assert later is not None
        assert await later.result(timeout=30, poll_delay=0.2) == "quick"
        assert not running.done()
    finally:
        await client.aclose()
        await stop_worker(worker, running)


@pytest.mark.timeout(60)
async def test_a_worker_exits_when_redis_stays_away_past_the_bound(
    server: PrivateRedis,
) -> None:
    worker = worker_for(server.url, redis_outage_limit_s=3)
    running = asyncio.create_task(worker.async_run())
    try:
        await asyncio.sleep(1)
        await asyncio.to_thread(server.stop)
        stopped = time.monotonic()
        with pytest.raises(RedisGone) as gone:
            await asyncio.wait_for(asyncio.shield(running), 30)
        assert 3 <= time.monotonic() - stopped < 15
        assert "REDIS_OUTAGE_LIMIT_S" in str(gone.value)
    finally:
        await stop_worker(worker, running)
        await asyncio.to_thread(server.start)  # the fixture stops it


@pytest.mark.timeout(60)
async def test_a_worker_retires_after_its_job_cap_and_leaves_the_rest_queued(
    redis_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.jobs.runner")
    worker = worker_for(redis_url, max_jobs_total=2, queue_name="auditbot:test-cap")
    client: ArqRedis = await create_pool(
        RedisSettings.from_dsn(redis_url), default_queue_name="auditbot:test-cap"
    )
    try:
        jobs = [await client.enqueue_job("quick", _job_id=f"cap-{n}") for n in range(3)]
        await asyncio.wait_for(worker.async_run(), 30)  # returns: the worker retired
        statuses = [await job.status() for job in jobs if job is not None]
        assert sorted(statuses) == [JobStatus.complete, JobStatus.complete, JobStatus.queued]
        assert worker.jobs_complete == 2
        # The soak's supervisor tells this planned exit from a crash by this line.
        assert planned_exit(0, caplog.text)
        assert not planned_exit(1, caplog.text) and not planned_exit(0, "a crash\n")
    finally:
        await client.aclose()
        await stop_worker(worker)


@pytest.mark.timeout(60)
async def test_a_live_worker_keeps_its_job_past_the_lease(redis_url: str) -> None:
    """The in-progress key is a lease of JOB_LEASE_S, not job_timeout + 10 s; its holder
    renews it, so a second worker never runs the job while the first one lives."""
    queue = "auditbot:test-lease"
    first = worker_for(redis_url, job_lease_s=1.5, job_timeout=900, queue_name=queue)
    second = worker_for(redis_url, job_lease_s=1.5, job_timeout=900, queue_name=queue)
    running = asyncio.create_task(first.async_run())
    client: ArqRedis = await create_pool(RedisSettings.from_dsn(redis_url),
                                         default_queue_name=queue)
    other: asyncio.Task[None] | None = None
    key = in_progress_key_prefix + "held-past-the-lease"
    try:
        job = await client.enqueue_job("hold", _job_id="held-past-the-lease")
        assert job is not None
        await asyncio.wait_for(first.ctx["started"].wait(), 20)
        assert 0 < await client.pttl(key) <= 1500  # a lease, not 910 s
        other = asyncio.create_task(second.async_run())
        await asyncio.sleep(5)  # more than three leases
        assert second.ctx["runs"] == []
        assert 0 < await client.pttl(key) <= 1500
        first.ctx["gate"].set()
        assert await job.result(timeout=20, poll_delay=0.1) == "done"
        assert first.ctx["runs"] == ["held-past-the-lease"]
        await asyncio.sleep(1.5)  # more than a beat: an ended job's lease is not renewed
        assert not await client.exists(key)
    finally:
        await client.aclose()
        await stop_worker(first, running)
        if other is not None:
            await stop_worker(second, other)


@pytest.mark.timeout(90)
async def test_a_lease_that_ran_out_during_an_outage_is_taken_back_at_once(
    server: PrivateRedis,
) -> None:
    """Redis away longer than the lease: the key has expired when Redis is back, and the
    worker that still runs the job sets it again before its next beat would."""
    worker = worker_for(server.url, job_lease_s=9, job_timeout=900, redis_outage_limit_s=60)
    running = asyncio.create_task(worker.async_run())
    key = in_progress_key_prefix + "held-over-a-long-outage"
    client: ArqRedis | None = None
    try:
        setup: ArqRedis = await create_pool(RedisSettings.from_dsn(server.url))
        job = await setup.enqueue_job("hold", _job_id="held-over-a-long-outage")
        assert job is not None
        await setup.aclose()
        await asyncio.wait_for(worker.ctx["started"].wait(), 20)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(10)  # the lease (9 s) runs out meanwhile
        await asyncio.to_thread(server.start)
        back = time.monotonic()
        client = await create_pool(RedisSettings.from_dsn(server.url))
        while not await client.exists(key):
            assert time.monotonic() - back < 2.5, "the lease was not taken back"  # beat: 3 s
            await asyncio.sleep(0.05)
        assert 0 < await client.pttl(key) <= 9000
        worker.ctx["gate"].set()
        assert await Job(job.job_id, client).result(timeout=30, poll_delay=0.2) == "done"
    finally:
        if client is not None:
            await client.aclose()
        await stop_worker(worker, running)


class CuttingProxy:
    """A TCP proxy in front of a real redis-server that plays Redis going away at one exact
    moment: once armed, the first connection that sends ``cut_on`` after a WATCH is closed
    before the command reaches Redis, and new connections are closed at once for
    ``down_s``."""

    def __init__(self, upstream_port: int, cut_on: bytes, down_s: float) -> None:
        self.upstream_port = upstream_port
        self.cut_on = cut_on
        self.down_s = down_s
        self.armed = False
        self.cut = asyncio.Event()
        self._down_until = 0.0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if time.monotonic() < self._down_until:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        back = asyncio.create_task(self._pipe(up_reader, writer))
        watching = False
        try:
            while data := await reader.read(65536):
                watching = watching or b"WATCH" in data
                if self.armed and watching and self.cut_on in data:
                    self.armed = False
                    self._down_until = time.monotonic() + self.down_s
                    self.cut.set()
                    return
                up_writer.write(data)
                await up_writer.drain()
        finally:
            back.cancel()
            writer.close()
            up_writer.close()
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()


@pytest.mark.timeout(60)
async def test_redis_going_away_inside_a_polls_watch_keeps_the_worker_and_its_slots(
    server: PrivateRedis,
) -> None:
    """Every poll checks each queued job under WATCH (arq's start_jobs), the running job's
    too: it stays queued until it ends. Redis lost at that moment makes redis-py raise
    WatchError, not ConnectionError; the worker must take it as Redis away (arq alone ends
    the process), and give back the job slot arq took for the check."""
    proxy = CuttingProxy(server.port, cut_on=b"EXISTS", down_s=1.5)
    worker = worker_for(await proxy.start(), redis_outage_limit_s=60, max_jobs=2)
    running = asyncio.create_task(worker.async_run())
    client: ArqRedis = await create_pool(RedisSettings.from_dsn(server.url))
    try:
        job = await client.enqueue_job("hold", _job_id="held-over-a-cut-watch")
        assert job is not None
        await asyncio.wait_for(worker.ctx["started"].wait(), 20)
        proxy.armed = True  # the next poll's check of the running job is cut
        await asyncio.wait_for(proxy.cut.wait(), 10)
        await asyncio.sleep(2.5)  # past the outage: the worker polls again
        assert not running.done(), running.exception() if running.done() else None
        worker.ctx["gate"].set()
        assert await Job(job.job_id, client).result(timeout=20, poll_delay=0.1) == "done"
        later = await client.enqueue_job("quick")
        assert later is not None
        assert await later.result(timeout=20, poll_delay=0.1) == "quick"
        # No slot is lost: with its jobs done, the worker holds none.
        while worker.tasks:
            await asyncio.sleep(0.05)
        assert (worker.job_counter, worker.sem._value) == (0, worker.max_jobs + 1)  # arq: +1
    finally:
        await client.aclose()
        await stop_worker(worker, running)
        await proxy.close()
