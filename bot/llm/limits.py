"""Requests-per-minute and tokens-per-minute limits per provider and model.

Two token buckets (requests and tokens) refilled continuously at limit/60 per second. In
Redis one Lua script checks and takes from both atomically with Redis's own clock, so
every worker process shares the same buckets. A 429 with Retry-After blocks the bucket
for that long, for everyone. The in-memory twin serves the local `auditbot review`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PREFIX = "auditbot:llm:rate:"

# Returns 0 when both buckets had room (and takes from them), else milliseconds to wait.
_ACQUIRE = """
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local need = math.min(tonumber(ARGV[3]), tpm)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'r', 't', 'ts', 'blocked')
local blocked = tonumber(h[4]) or 0
if blocked > now then return blocked - now end
local r = tonumber(h[1]) or rpm
local tk = tonumber(h[2]) or tpm
local ts = tonumber(h[3]) or now
local elapsed = math.max(0, now - ts)
r = math.min(rpm, r + elapsed * rpm / 60000)
tk = math.min(tpm, tk + elapsed * tpm / 60000)
local wait = 0
if r < 1 then wait = math.max(wait, math.ceil((1 - r) * 60000 / rpm)) end
if tk < need then wait = math.max(wait, math.ceil((need - tk) * 60000 / tpm)) end
if wait == 0 then
  r = r - 1
  tk = tk - need
end
redis.call('HSET', KEYS[1], 'r', tostring(r), 't', tostring(tk), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 180000)
return wait
"""

_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'blocked')) or 0
if until_ms > current then redis.call('HSET', KEYS[1], 'blocked', tostring(until_ms)) end
redis.call('PEXPIRE', KEYS[1], math.max(180000, tonumber(ARGV[1]) + 1000))
return 0
"""


class RateLimiter(Protocol):
    async def wait_time(self, key: str, tokens: int) -> float:
        """Take one request and ``tokens`` if both fit now (returns 0), else the seconds
        to wait before asking again (nothing is taken)."""
        ...

    async def refund(self, key: str, tokens: int) -> None:
        """Give back (or, negative, take more) tokens once the real count is known."""
        ...

    async def block(self, key: str, seconds: float) -> None:
        """The provider said "retry after": nobody calls it for ``seconds``."""
        ...


class RedisRateLimiter:
    def __init__(self, redis: Redis, rpm: int, tpm: int) -> None:
        self._redis = redis
        self._rpm = rpm
        self._tpm = tpm
        self._acquire = redis.register_script(_ACQUIRE)
        self._block = redis.register_script(_BLOCK)

    async def wait_time(self, key: str, tokens: int) -> float:
        try:
            waited = await self._acquire(keys=[PREFIX + key], args=[self._rpm, self._tpm, tokens])
        except RedisError as exc:
            # Limits protect the provider account; with Redis down the queue is down too,
            # so proceeding is the lesser evil for the one call in flight.
            log.warning("rate limiter unavailable, proceeding: %s", exc)
            return 0.0
        return int(waited) / 1000

    async def refund(self, key: str, tokens: int) -> None:
        if tokens:
            try:
                await self._redis.hincrbyfloat(PREFIX + key, "t", float(tokens))  # type: ignore[misc]
            except RedisError as exc:
                log.warning("rate limiter refund failed: %s", exc)

    async def block(self, key: str, seconds: float) -> None:
        try:
            await self._block(keys=[PREFIX + key], args=[int(seconds * 1000)])
        except RedisError as exc:
            log.warning("rate limiter block failed: %s", exc)


class MemoryRateLimiter:
    def __init__(self, rpm: int, tpm: int) -> None:
        self._rpm = rpm
        self._tpm = tpm
        self._buckets: dict[str, list[float]] = {}  # key -> [requests, tokens, ts, blocked]

    def _bucket(self, key: str, now: float) -> list[float]:
        bucket = self._buckets.setdefault(key, [float(self._rpm), float(self._tpm), now, 0.0])
        elapsed = max(0.0, now - bucket[2])
        bucket[0] = min(self._rpm, bucket[0] + elapsed * self._rpm / 60)
        bucket[1] = min(self._tpm, bucket[1] + elapsed * self._tpm / 60)
        bucket[2] = now
        return bucket

    async def wait_time(self, key: str, tokens: int) -> float:
        now = time.monotonic()
        bucket = self._bucket(key, now)
        if bucket[3] > now:
            return bucket[3] - now
        need = min(tokens, self._tpm)
        wait = 0.0
        if bucket[0] < 1:
            wait = max(wait, (1 - bucket[0]) * 60 / self._rpm)
        if bucket[1] < need:
            wait = max(wait, (need - bucket[1]) * 60 / self._tpm)
        if wait == 0:
            bucket[0] -= 1
            bucket[1] -= need
        return wait

    async def refund(self, key: str, tokens: int) -> None:
        self._bucket(key, time.monotonic())[1] += tokens

    async def block(self, key: str, seconds: float) -> None:
        bucket = self._bucket(key, time.monotonic())
        bucket[3] = max(bucket[3], time.monotonic() + seconds)


async def acquire(limiter: RateLimiter, key: str, tokens: int, *, max_wait_s: float) -> bool:
    """Wait until the limits allow the call; False if that would take longer than
    ``max_wait_s`` (the caller treats it like a 429 and falls back or gives up)."""
    deadline = time.monotonic() + max_wait_s
    while True:
        wait = await limiter.wait_time(key, tokens)
        if wait <= 0:
            return True
        if time.monotonic() + wait > deadline:
            return False
        await asyncio.sleep(wait)
