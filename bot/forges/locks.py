"""Redis locks between workers, leased and renewed: two workers (a retried job racing the
original, two deliveries of one push) must not both post a review or a summary, and GitHub
writes of one installation go one at a time.

A lock is held on a short lease (``LEASE_S``) that a heartbeat renews while its holder
lives: a worker killed mid-write (SIGKILL, a lost machine) frees its locks within seconds,
instead of stalling every other worker for the minutes a long timeout would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError, RedisError

from bot.errors import RetryLater

logger = logging.getLogger(__name__)

PREFIX = "auditbot:forge-lock"
LEASE_S = 10.0  # how long a dead holder keeps a lock
WAIT_RETRY_S = 30  # a job that waited ``wait_s`` in vain tries again this much later


@asynccontextmanager
async def leased_lock(
    redis: Redis, key: str, *, wait_s: float, lease_s: float = LEASE_S
) -> AsyncIterator[None]:
    """Hold ``key`` for the block, waiting up to ``wait_s`` for it (then RetryLater)."""
    lock = redis.lock(key, timeout=lease_s, blocking_timeout=wait_s)
    try:
        acquired = await lock.acquire()
    except LockError:
        acquired = False
    if not acquired:
        raise RetryLater(f"another worker holds {key}", retry_after=WAIT_RETRY_S)
    heartbeat = asyncio.create_task(_renew(lock, key, lease_s))
    try:
        yield
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        try:
            await lock.release()
        except LockError:
            logger.warning("lock %s expired before release", key)
        except (RedisError, OSError) as exc:
            logger.warning("lock %s not released (Redis: %s); its lease ends it", key, exc)


async def _renew(lock: Lock, key: str, lease_s: float) -> None:
    """The holder's heartbeat: the lease starts again every third of it."""
    while True:
        await asyncio.sleep(lease_s / 3)
        try:
            await lock.reacquire()
        except LockNotOwnedError:
            logger.warning("lock %s was lost (its lease ran out)", key)
            return
        except (RedisError, OSError) as exc:  # Redis away: try again at the next beat
            logger.info("could not renew lock %s: %s", key, exc)


@asynccontextmanager
async def publish_lock(
    redis: Redis | None, name: str, *, timeout_s: float = 300.0
) -> AsyncIterator[None]:
    """Hold ``name`` for the block, waiting up to ``timeout_s`` for it; without Redis (the
    CLI) there is no one to race."""
    if redis is None:
        yield
        return
    async with leased_lock(redis, f"{PREFIX}:{name}", wait_s=timeout_s):
        yield
