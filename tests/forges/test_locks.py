"""Leased locks (issue 17): a live holder keeps its lock past the lease by renewing it; a
holder killed with SIGKILL frees the GitHub write lock and the publish locks within the
lease, not after the minutes a long timeout would cost every other worker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from redis.asyncio import Redis

from bot.errors import RetryLater
from bot.forges.github.auth import WriteSpacing
from bot.forges.locks import LEASE_S, leased_lock, publish_lock

HOLDER = """
import asyncio, sys
import httpx
from redis.asyncio import Redis
from bot.forges.github.auth import WriteSpacing
from bot.forges.locks import publish_lock

async def main() -> None:
    redis = Redis.from_url(sys.argv[1])
    write = WriteSpacing(redis, 42, spacing_s=0).async_acquire(
        httpx.Request("POST", "https://api.github.com/repos/o/r/check-runs"))
    async with write, publish_lock(redis, "github:review:o/r#5"):
        print("held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


@pytest.fixture
def holder(redis_url: str) -> Iterator[subprocess.Popen[str]]:
    """Another worker process, holding both kinds of lock until it is killed."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, redis_url],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait(timeout=10)
    process.stdout.close()


async def acquire_both(redis: Redis, wait_s: float) -> None:
    write = WriteSpacing(redis, 42, spacing_s=0, lock_timeout_s=wait_s).async_acquire(
        httpx.Request("POST", "https://api.github.com/repos/o/r/check-runs"))
    async with write, publish_lock(redis, "github:review:o/r#5", timeout_s=wait_s):
        pass


@pytest.mark.timeout(60)
async def test_a_killed_holder_frees_its_locks_within_the_lease(
    redis_url: str, holder: subprocess.Popen[str]
) -> None:
    redis = Redis.from_url(redis_url)
    try:
        # Alive, the holder keeps both locks past one lease: its heartbeat renews them.
        with pytest.raises(RetryLater):
            await acquire_both(redis, wait_s=LEASE_S * 1.5)
        os.kill(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        await acquire_both(redis, wait_s=60)
        assert time.monotonic() - killed <= LEASE_S + 2
    finally:
        await redis.aclose()


async def test_a_lock_is_held_on_a_short_lease_and_released_at_the_end(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        async with leased_lock(redis, "auditbot:test-lock", wait_s=1, lease_s=0.6):
            await asyncio.sleep(1.5)  # more than two leases: renewed meanwhile
            ttl_ms = await redis.pttl("auditbot:test-lock")
            assert 0 < ttl_ms <= 600
        assert await redis.exists("auditbot:test-lock") == 0
    finally:
        await redis.aclose()
