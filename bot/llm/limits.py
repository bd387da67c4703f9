"""Requests-per-minute and tokens-per-minute limits per provider and model.

Two token buckets (requests and tokens) refilled continuously at limit/60 per second. In
Redis one Lua script checks and takes from both atomically with Redis's own clock, so
every worker process shares the same buckets. A 429 with Retry-After blocks the bucket
for that long, for everyone. The in-memory twin serves the local `auditbot review`.

Each provider and model gets its limits from its preset, or from the settings. The
provider's answers adapt them (:meth:`RateLimiter.observe`): what its ``x-ratelimit-*``
headers say remains caps the buckets, nothing remaining blocks until the reset it names,
and, unless the settings fixed the limits, the limits it announces replace the preset's
guess (in both directions: a higher tier is used, a lower one respected).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.llm.types import RateInfo

log = logging.getLogger(__name__)

PREFIX = "auditbot:llm:rate:"

# Refill from the hash; the provider's learned limits ('lr', 'lt') win when adaptive.
_REFILL = """
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'r', 't', 'ts', 'blocked', 'lr', 'lt')
if ARGV[3] == '1' then
  rpm = tonumber(h[5]) or rpm
  tpm = tonumber(h[6]) or tpm
end
local blocked = tonumber(h[4]) or 0
local r = tonumber(h[1]) or rpm
local tk = tonumber(h[2]) or tpm
local ts = tonumber(h[3]) or now
local elapsed = math.max(0, now - ts)
r = math.min(rpm, r + elapsed * rpm / 60000)
tk = math.min(tpm, tk + elapsed * tpm / 60000)"""

# Returns 0 when both buckets had room (and takes from them), else milliseconds to wait.
_ACQUIRE = _REFILL + """
local need = math.min(tonumber(ARGV[4]), tpm)
if blocked > now then return blocked - now end
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

# ARGV after the refill's three: limit r, limit t, remaining r, remaining t, reset r ms,
# reset t ms (-1: not said).
_OBSERVE = _REFILL + """
local lim_r, lim_t = tonumber(ARGV[4]), tonumber(ARGV[5])
local rem_r, rem_t = tonumber(ARGV[6]), tonumber(ARGV[7])
local reset_r, reset_t = tonumber(ARGV[8]), tonumber(ARGV[9])
if ARGV[3] == '1' and lim_r > 0 then redis.call('HSET', KEYS[1], 'lr', tostring(lim_r)) end
if ARGV[3] == '1' and lim_t > 0 then redis.call('HSET', KEYS[1], 'lt', tostring(lim_t)) end
if rem_r >= 0 then r = math.min(r, rem_r) end
if rem_t >= 0 then tk = math.min(tk, rem_t) end
if rem_r == 0 and reset_r > 0 then blocked = math.max(blocked, now + reset_r) end
if rem_t == 0 and reset_t > 0 then blocked = math.max(blocked, now + reset_t) end
redis.call('HSET', KEYS[1], 'r', tostring(r), 't', tostring(tk), 'ts', tostring(now),
           'blocked', tostring(blocked))
redis.call('PEXPIRE', KEYS[1], 180000)
return 0
"""


@dataclass(frozen=True)
class Limits:
    """Per minute. ``adaptive``: the provider's announced limits replace these."""

    rpm: int
    tpm: int
    adaptive: bool = True


class RateLimiter(Protocol):
    def configure(self, key: str, limits: Limits) -> None:
        """The limits of ``key`` (a provider:model); others get the limiter's defaults."""
        ...

    async def observe(self, key: str, rate: RateInfo) -> None:
        """What the provider's answer said of its limits (see the module doc)."""
        ...

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


def _ms(seconds: float | None) -> int:
    return -1 if seconds is None else int(seconds * 1000)


def _num(value: int | None) -> int:
    return -1 if value is None else value


class RedisRateLimiter:
    def __init__(self, redis: Redis, rpm: int, tpm: int) -> None:
        self._redis = redis
        self._default = Limits(rpm, tpm)
        self._limits: dict[str, Limits] = {}
        self._acquire = redis.register_script(_ACQUIRE)
        self._block = redis.register_script(_BLOCK)
        self._observe = redis.register_script(_OBSERVE)

    def configure(self, key: str, limits: Limits) -> None:
        self._limits[key] = limits

    def _args(self, key: str) -> list[int | str]:
        limits = self._limits.get(key, self._default)
        return [limits.rpm, limits.tpm, "1" if limits.adaptive else "0"]

    async def observe(self, key: str, rate: RateInfo) -> None:
        args = [
            *self._args(key), _num(rate.limit_requests), _num(rate.limit_tokens),
            _num(rate.remaining_requests), _num(rate.remaining_tokens),
            _ms(rate.reset_requests_s), _ms(rate.reset_tokens_s),
        ]
        try:
            await self._observe(keys=[PREFIX + key], args=args)
        except RedisError as exc:
            log.warning("rate limiter update failed: %s", exc)

    async def wait_time(self, key: str, tokens: int) -> float:
        try:
            waited = await self._acquire(keys=[PREFIX + key], args=[*self._args(key), tokens])
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
        self._default = Limits(rpm, tpm)
        self._limits: dict[str, Limits] = {}
        self._learned: dict[str, tuple[int | None, int | None]] = {}
        self._buckets: dict[str, list[float]] = {}  # key -> [requests, tokens, ts, blocked]

    def configure(self, key: str, limits: Limits) -> None:
        self._limits[key] = limits

    def _limits_of(self, key: str) -> tuple[int, int]:
        limits = self._limits.get(key, self._default)
        rpm, tpm = limits.rpm, limits.tpm
        if limits.adaptive:
            learned_r, learned_t = self._learned.get(key, (None, None))
            rpm, tpm = learned_r or rpm, learned_t or tpm
        return rpm, tpm

    def _bucket(self, key: str, now: float) -> list[float]:
        rpm, tpm = self._limits_of(key)
        bucket = self._buckets.setdefault(key, [float(rpm), float(tpm), now, 0.0])
        elapsed = max(0.0, now - bucket[2])
        bucket[0] = min(rpm, bucket[0] + elapsed * rpm / 60)
        bucket[1] = min(tpm, bucket[1] + elapsed * tpm / 60)
        bucket[2] = now
        return bucket

    async def observe(self, key: str, rate: RateInfo) -> None:
        now = time.monotonic()
        bucket = self._bucket(key, now)
        if self._limits.get(key, self._default).adaptive:
            old_r, old_t = self._learned.get(key, (None, None))
            self._learned[key] = (rate.limit_requests or old_r, rate.limit_tokens or old_t)
        if rate.remaining_requests is not None:
            bucket[0] = min(bucket[0], rate.remaining_requests)
        if rate.remaining_tokens is not None:
            bucket[1] = min(bucket[1], rate.remaining_tokens)
        if rate.remaining_requests == 0 and rate.reset_requests_s:
            bucket[3] = max(bucket[3], now + rate.reset_requests_s)
        if rate.remaining_tokens == 0 and rate.reset_tokens_s:
            bucket[3] = max(bucket[3], now + rate.reset_tokens_s)

    async def wait_time(self, key: str, tokens: int) -> float:
        now = time.monotonic()
        bucket = self._bucket(key, now)
        if bucket[3] > now:
            return bucket[3] - now
        rpm, tpm = self._limits_of(key)
        need = min(tokens, tpm)
        wait = 0.0
        if bucket[0] < 1:
            wait = max(wait, (1 - bucket[0]) * 60 / rpm)
        if bucket[1] < need:
            wait = max(wait, (need - bucket[1]) * 60 / tpm)
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
