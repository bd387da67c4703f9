"""The queue's figures as Redis holds them at the moment of a scrape: how many jobs arq's
sorted set holds, how long the oldest whose time has come has waited, how many are running.
Served by the workers' exporter (``bot.jobs.metrics``) and the web's ``/metrics`` alike, so
every process agrees on them; no counters live here (the web process imports it)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import cast

from arq.constants import in_progress_key_prefix
from prometheus_client.core import GaugeMetricFamily
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot.jobs.contracts import QUEUE_NAME

# Running jobs are looked for among this many of the oldest jobs whose time has come: arq
# takes jobs oldest first, so the running ones are there unless the running alone outnumber it.
IN_PROGRESS_LOOKED_AT = 1000


@dataclass(frozen=True)
class QueueFigures:
    depth: int
    oldest_age_s: float
    in_progress: int

    @classmethod
    def of(
        cls, now_ms: float, depth: int, due: list[tuple[bytes, float]], in_progress: int
    ) -> QueueFigures:
        """From the queue's size, its jobs whose time has come (oldest first, with their
        scores) and how many of those have arq's in-progress key."""
        age = max(0.0, (now_ms - due[0][1]) / 1000) if due else 0.0
        return cls(depth=depth, oldest_age_s=age, in_progress=in_progress)

    def families(self) -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "auditbot_queue_depth",
                "Jobs in the queue: waiting, deferred for a retry, or running",
                value=self.depth,
            ),
            GaugeMetricFamily(
                "auditbot_queue_oldest_job_age_seconds",
                "How long the oldest job whose time has come has been in the queue",
                value=self.oldest_age_s,
            ),
            GaugeMetricFamily(
                "auditbot_queue_in_progress",
                "Jobs of the queue a worker is running now",
                value=self.in_progress,
            ),
        ]


def _in_progress_keys(due: list[tuple[bytes, float]]) -> list[str]:
    return [in_progress_key_prefix + job_id.decode() for job_id, _ in due]


def read_queue(redis: Redis, queue: str = QUEUE_NAME) -> QueueFigures:
    """The queue as Redis holds it now: two round trips, whatever the size of Redis."""
    now_ms = time.time() * 1000
    pipe = redis.pipeline(transaction=False)
    pipe.zcard(queue)
    pipe.zrangebyscore(queue, "-inf", now_ms, start=0, num=IN_PROGRESS_LOOKED_AT,
                       withscores=True)
    depth, due = pipe.execute()
    running = cast(int, redis.exists(*_in_progress_keys(due))) if due else 0
    return QueueFigures.of(now_ms, depth, due, running)


async def aread_queue(redis: AsyncRedis, queue: str = QUEUE_NAME) -> QueueFigures:
    """:func:`read_queue` for an asyncio client (the web process's)."""
    now_ms = time.time() * 1000
    pipe = redis.pipeline(transaction=False)
    pipe.zcard(queue)
    pipe.zrangebyscore(queue, "-inf", now_ms, start=0, num=IN_PROGRESS_LOOKED_AT,
                       withscores=True)
    depth, due = await pipe.execute()
    running = await redis.exists(*_in_progress_keys(due)) if due else 0
    return QueueFigures.of(now_ms, depth, due, running)
