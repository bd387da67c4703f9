"""Circuit breaker per provider and model: after N failed attempts in a row the provider is
"open" for a cooldown and calls go straight to the fallback instead of each waiting out
timeouts; after the cooldown one probe call is let through ("half-open"), and a success
closes it again. State lives in Redis, so every worker sees the same circuit."""

from __future__ import annotations

import logging
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PREFIX = "auditbot:llm:breaker:"

# ARGV: threshold, cooldown ms. Returns 1 when the circuit just opened.
_FAILURE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)
if failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'open_until', tostring(now + tonumber(ARGV[2])), 'failures', '0')
  redis.call('DEL', KEYS[1] .. ':probe')
  return 1
end
return 0
"""

# Returns 1 when a call may go: closed, or half-open and this caller won the probe.
_ALLOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until')) or 0
if open_until == 0 then return 1 end
if open_until > now then return 0 end
if redis.call('SET', KEYS[1] .. ':probe', '1', 'NX', 'PX', tonumber(ARGV[1])) then return 1 end
return 0
"""


class CircuitBreaker(Protocol):
    async def allow(self, key: str) -> bool: ...

    async def success(self, key: str) -> None: ...

    async def failure(self, key: str) -> None: ...


class RedisCircuitBreaker:
    def __init__(self, redis: Redis, threshold: int, cooldown_s: float) -> None:
        self._redis = redis
        self._threshold = threshold
        self._cooldown_ms = max(int(cooldown_s * 1000), 1)
        self._failure = redis.register_script(_FAILURE)
        self._allow = redis.register_script(_ALLOW)

    async def allow(self, key: str) -> bool:
        try:
            return bool(await self._allow(keys=[PREFIX + key], args=[self._cooldown_ms]))
        except RedisError as exc:
            log.warning("circuit breaker unavailable, allowing: %s", exc)
            return True

    async def success(self, key: str) -> None:
        try:
            await self._redis.delete(PREFIX + key, PREFIX + key + ":probe")
        except RedisError as exc:
            log.warning("circuit breaker reset failed: %s", exc)

    async def failure(self, key: str) -> None:
        try:
            opened = await self._failure(
                keys=[PREFIX + key], args=[self._threshold, self._cooldown_ms]
            )
        except RedisError as exc:
            log.warning("circuit breaker update failed: %s", exc)
            return
        if opened:
            log.warning("circuit for %s opened for %.0f s", key, self._cooldown_ms / 1000)


class MemoryCircuitBreaker:
    def __init__(self, threshold: int, cooldown_s: float) -> None:
        self._threshold = threshold
        self._cooldown = cooldown_s
        self._failures: dict[str, int] = {}
        self._open_until: dict[str, float] = {}
        self._probe_until: dict[str, float] = {}

    async def allow(self, key: str) -> bool:
        now = time.monotonic()
        open_until = self._open_until.get(key, 0.0)
        if open_until == 0.0:
            return True
        if open_until > now:
            return False
        if self._probe_until.get(key, 0.0) > now:
            return False
        self._probe_until[key] = now + self._cooldown
        return True

    async def success(self, key: str) -> None:
        self._failures.pop(key, None)
        self._open_until.pop(key, None)
        self._probe_until.pop(key, None)

    async def failure(self, key: str) -> None:
        self._failures[key] = self._failures.get(key, 0) + 1
        if self._failures[key] >= self._threshold:
            self._failures[key] = 0
            self._open_until[key] = time.monotonic() + self._cooldown
            self._probe_until.pop(key, None)
            log.warning("circuit for %s opened for %.0f s", key, self._cooldown)
