"""Start-up check that Redis will not lose queued jobs.

Redis is the queue: without persistence a restart drops every queued audit, and with an
eviction policy other than ``noeviction`` a full Redis silently deletes job keys. The web
process and the worker call :func:`warn_if_redis_may_lose_jobs` at start; it warns and never
stops the process (a developer's Redis is often neither, and that is fine for them).
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 3.0
# tests/events/test_redis_checks.py checks that the README has this section.
PERSISTENCE_DOCS = '"Running in production" in the README'


async def redis_durability_problems(redis: Redis) -> list[str]:
    """What in the server's configuration can lose jobs; [] when nothing can."""
    appendonly = await _config_get(redis, "appendonly")
    policy = await _config_get(redis, "maxmemory-policy")
    problems = []
    if appendonly != "yes":
        problems.append(
            f"appendonly is {appendonly!r}: queued jobs are lost when Redis restarts "
            "(set `appendonly yes`)"
        )
    if policy != "noeviction":
        problems.append(
            f"maxmemory-policy is {policy!r}: a full Redis may evict queued jobs "
            "(set `maxmemory-policy noeviction`)"
        )
    return problems


async def warn_if_redis_may_lose_jobs(redis: Redis) -> list[str]:
    """Log one warning per problem (or why the check could not run); return the problems."""
    try:
        problems = await asyncio.wait_for(redis_durability_problems(redis), CHECK_TIMEOUT_S)
    except (RedisError, OSError, TimeoutError) as exc:
        # Managed Redis services often disable CONFIG; an unreachable Redis shows in /readyz.
        log.warning("could not check Redis persistence settings: %s", exc)
        return []
    for problem in problems:
        log.warning("Redis may lose queued jobs: %s; see %s", problem, PERSISTENCE_DOCS)
    return problems


async def _config_get(redis: Redis, name: str) -> str | None:
    reply = await redis.config_get(name)
    value = reply.get(name) if isinstance(reply, dict) else None
    if value is None and isinstance(reply, dict):
        value = reply.get(name.encode())
    if isinstance(value, bytes):
        return value.decode()
    return value if isinstance(value, str) else None
