"""A Redis lock around publishing: two workers (a retried job racing the original, two
deliveries of one push) must not both post a review or a summary."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import LockError

from bot.errors import RetryLater

logger = logging.getLogger(__name__)

PREFIX = "auditbot:forge-lock"


@asynccontextmanager
async def publish_lock(
    redis: Redis | None, name: str, *, timeout_s: float = 300.0
) -> AsyncIterator[None]:
    """Hold ``name`` for the block; without Redis (the CLI) there is no one to race."""
    if redis is None:
        yield
        return
    lock = redis.lock(f"{PREFIX}:{name}", timeout=timeout_s, blocking_timeout=timeout_s)
    try:
        acquired = await lock.acquire()
    except LockError:
        acquired = False
    if not acquired:
        raise RetryLater(f"another worker holds {name}", retry_after=30)
    try:
        yield
    finally:
        try:
            await lock.release()
        except LockError:
            logger.warning("lock %s expired before release", name)
