"""The worker process under faults (issue 17): a real redis-server (AOF on, as in
production) stopped and started again under a running worker, and the job cap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job, JobStatus

from bot.jobs.runner import AuditWorker, RedisGone
from tests.events.private_redis import PrivateRedis

AOF = ("--appendonly", "yes", "--appendfsync", "always")


async def hold(ctx: dict[str, Any]) -> str:
    """A job that runs until the test lets it finish."""
    ctx["started"].set()
    await ctx["gate"].wait()
    return "done"


async def quick(ctx: dict[str, Any]) -> str:
    return "quick"


def worker_for(url: str, **kwargs: Any) -> AuditWorker:
    ctx = {"started": asyncio.Event(), "gate": asyncio.Event()}
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
    redis_url: str,
) -> None:
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
    finally:
        await client.aclose()
        await stop_worker(worker)
