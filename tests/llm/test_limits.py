"""Rate limits per provider and model, shared through Redis, and Retry-After blocks."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.llm.limits import MemoryRateLimiter, RedisRateLimiter, acquire


async def test_requests_per_minute_are_shared_between_workers(redis: Redis) -> None:
    first, second = RedisRateLimiter(redis, 2, 100_000), RedisRateLimiter(redis, 2, 100_000)
    assert await first.wait_time("openai:m", 10) == 0
    assert await second.wait_time("openai:m", 10) == 0
    wait = await first.wait_time("openai:m", 10)
    assert 25 <= wait <= 30.1  # one request refills in 30 s at 2 per minute
    assert await second.wait_time("other:m", 10) == 0  # another model has its own bucket


async def test_tokens_per_minute(redis: Redis) -> None:
    limiter = RedisRateLimiter(redis, 1000, 6_000)
    assert await limiter.wait_time("p:m", 5_000) == 0
    wait = await limiter.wait_time("p:m", 3_000)
    assert 19 <= wait <= 20.1  # 2 000 missing tokens at 100 per second
    await limiter.refund("p:m", 4_000)  # the call used far fewer tokens than estimated
    assert await limiter.wait_time("p:m", 3_000) == 0


async def test_retry_after_blocks_everyone(redis: Redis) -> None:
    first, second = RedisRateLimiter(redis, 60, 100_000), RedisRateLimiter(redis, 60, 100_000)
    await first.block("p:m", 2.0)
    assert 1.5 <= await second.wait_time("p:m", 1) <= 2.0


async def test_acquire_gives_up_past_its_deadline() -> None:
    limiter = MemoryRateLimiter(1, 100_000)
    assert await acquire(limiter, "k", 1, max_wait_s=1.0)
    assert not await acquire(limiter, "k", 1, max_wait_s=1.0)  # next slot is 60 s away


async def test_memory_limiter_waits_then_proceeds() -> None:
    limiter = MemoryRateLimiter(600, 100_000)  # one request per 0.1 s after the burst
    for _ in range(600):
        assert await limiter.wait_time("k", 1) == 0
    wait = await limiter.wait_time("k", 1)
    assert 0 < wait <= 0.11
    assert await acquire(limiter, "k", 1, max_wait_s=1.0)
