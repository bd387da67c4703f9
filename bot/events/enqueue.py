"""Dedupe a delivery and enqueue its jobs in one atomic round trip to Redis.

One Lua script does what arq's ``ArqRedis.enqueue_job`` does for each job (refuse an id whose
job or result key exists; else ``PSETEX arq:job:<id>`` with the pickled job and ``ZADD
arq:queue``) and records the delivery id with a TTL, all or nothing: the delivery is recorded
only together with its jobs, and five copies of one delivery arriving at once on five web
processes make one job, because Redis runs scripts one at a time.

The job bytes are built here exactly as arq builds them (``arq.jobs.serialize_job`` with its
default pickle serializer), so an unmodified arq worker runs them.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import hiredis
from arq.constants import expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from bot.jobs.contracts import QUEUE_NAME, JobRequest

DELIVERY_KEY_PREFIX: Final = "auditbot:delivery:"
DEADLINE_S: Final = 5.0  # for one batch's round trip to Redis

# KEYS: delivery key, queue, then (job key, result key) per job.
# ARGV: delivery TTL (s), delivery record, then (job id, job bytes, expiry ms, score) per job.
# Returns -1 when the delivery was already recorded, else the number of jobs enqueued (a job
# whose id arq already knows is skipped, as arq's enqueue_job skips it).
_SCRIPT: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return -1
end
local enqueued = 0
local jobs = (#KEYS - 2) / 2
for i = 0, jobs - 1 do
  local job_key = KEYS[3 + 2 * i]
  local result_key = KEYS[4 + 2 * i]
  if redis.call('EXISTS', job_key, result_key) == 0 then
    redis.call('PSETEX', job_key, ARGV[5 + 4 * i], ARGV[4 + 4 * i])
    redis.call('ZADD', KEYS[2], ARGV[6 + 4 * i], ARGV[3 + 4 * i])
    enqueued = enqueued + 1
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1])
return enqueued
"""


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    duplicate: bool  # the delivery id was already recorded: nothing was done
    enqueued: int  # jobs added; the others were already known to arq


class DeliveryQueue:
    """Bound to one Redis client. Deliveries arriving together share one pipelined write:
    each is still its own atomic script run, but N concurrent deliveries cost one send and
    one receive on the Redis socket instead of N of each (a group commit)."""

    def __init__(
        self,
        redis: Redis,
        *,
        ttl_s: int,
        queue_name: str = QUEUE_NAME,
        deadline_s: float = DEADLINE_S,
    ) -> None:
        self._redis = redis
        self._deadline_s = deadline_s
        # Redis names a script by its SHA-1; nothing here relies on SHA-1 being strong.
        self._sha = hashlib.sha1(_SCRIPT.encode(), usedforsecurity=False).hexdigest()
        self._ttl_s = ttl_s
        self._queue = queue_name
        self._pending: list[_Call] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(
        self, forge: str, delivery_id: str, jobs: Sequence[JobRequest]
    ) -> EnqueueResult:
        """Record ``delivery_id`` and enqueue ``jobs`` atomically (raises RedisError)."""
        now_ms = int(time.time() * 1000)
        keys: list[str] = [delivery_key(forge, delivery_id), self._queue]
        args: list[Any] = [self._ttl_s, f"{now_ms}:{len(jobs)}"]
        for job in jobs:
            keys += [job_key_prefix + job.job_id, result_key_prefix + job.job_id]
            body = serialize_job(job.name, job.args(), {}, None, now_ms)
            args += [job.job_id, body, expires_extra_ms, now_ms]
        call = _Call(keys, args, asyncio.get_running_loop().create_future())
        self._pending.append(call)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        outcome = int(await call.result)
        if outcome < 0:
            return EnqueueResult(duplicate=True, enqueued=0)
        return EnqueueResult(duplicate=False, enqueued=outcome)

    async def _flush(self) -> None:
        """Send what is pending; what arrives meanwhile goes in the next batch."""
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self._execute(batch)
                except Exception as exc:  # noqa: BLE001 - each waiting delivery re-raises it
                    results = [exc] * len(batch)
                for call, result in zip(batch, results, strict=True):
                    if call.result.done():
                        continue  # that request was cancelled (the sender hung up)
                    if isinstance(result, BaseException):
                        call.result.set_exception(result)
                    else:
                        call.result.set_result(int(result))
        finally:
            self._flusher = None

    async def _execute(self, batch: list[_Call]) -> list[Any]:
        # One deadline for the whole batch: the web process answers 503 rather than hang
        # when Redis stops answering (TimeoutError is an OSError, which it catches).
        async with asyncio.timeout(self._deadline_s):
            return await self._execute_batch(batch)

    async def _execute_batch(self, batch: list[_Call]) -> list[Any]:
        results = await self._pipeline(batch)
        missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            # First use, or Redis restarted and forgot its scripts: load it and run those again.
            await self._redis.script_load(_SCRIPT)
            again = await self._pipeline([batch[i] for i in missing])
            for i, result in zip(missing, again, strict=True):
                results[i] = result
        return results

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        """One write of every call's EVALSHA, then their replies in order (an error reply
        is returned in its place, not raised). The commands are packed by hiredis, in C:
        redis-py's own pipeline packed and parsed them in Python, about 15 % of the web
        process's time per delivery in bench/bench_webhooks.py."""
        packed = b"".join(
            hiredis.pack_command(("EVALSHA", self._sha, len(call.keys), *call.keys, *call.args))
            for call in batch
        )
        pool = self._redis.connection_pool
        connection = await pool.get_connection()
        try:
            await connection.send_packed_command(packed, check_health=False)
            results: list[Any] = []
            for _ in batch:
                try:
                    results.append(await connection.read_response())
                except ResponseError as exc:  # this script's error; the others still answer
                    results.append(exc)
            return results
        except BaseException:
            # A reply left unread would answer the next caller: never reuse this connection.
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)


@dataclass(slots=True)
class _Call:
    keys: list[str]
    args: list[Any]
    result: asyncio.Future[int]


def delivery_key(forge: str, delivery_id: str) -> str:
    return f"{DELIVERY_KEY_PREFIX}{forge}:{delivery_id}"
