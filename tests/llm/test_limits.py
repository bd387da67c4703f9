"""Rate limits per provider and model, shared through Redis, Retry-After blocks, and the
limits and remainders the providers announce in their headers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from bot.config import Settings
from bot.llm.catalog import limits_for
from bot.llm.factory import build_provider
from bot.llm.limits import Limits, MemoryRateLimiter, RateLimiter, RedisRateLimiter, acquire
from bot.llm.presets import PRESETS
from bot.llm.pricing import model_info
from bot.llm.providers.base import rate_info
from bot.llm.retry import Handle
from bot.llm.service import LLMService, backends
from bot.llm.types import RateInfo
from tests.llm.helpers import KEYS, MODELS, base_url, make_fake, review_request, serving


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


@pytest.mark.parametrize("backend", ["redis", "memory"])
async def test_nothing_remaining_blocks_until_the_announced_reset(
    backend: str, redis: Redis
) -> None:
    limiter = _limiter(backend, redis, 600, 1_000_000)
    await limiter.observe("reset:m", RateInfo(remaining_requests=0, reset_requests_s=2.0))
    assert 1.5 <= await limiter.wait_time("reset:m", 1) <= 2.0
    # Remaining tokens cap the bucket although the preset's would still have room.
    await limiter.observe("tokens:m", RateInfo(remaining_tokens=1_000, reset_tokens_s=0.5))
    assert await limiter.wait_time("tokens:m", 5_000) > 0


@pytest.mark.parametrize("backend", ["redis", "memory"])
async def test_announced_limits_replace_the_presets_unless_the_settings_fixed_them(
    backend: str, redis: Redis
) -> None:
    limiter = _limiter(backend, redis, 600, 1_000_000)
    limiter.configure("guess:m", Limits(600, 1_000_000, adaptive=True))
    limiter.configure("fixed:m", Limits(600, 1_000_000, adaptive=False))
    for key in ("guess:m", "fixed:m"):
        await limiter.observe(key, RateInfo(limit_requests=2, remaining_requests=2))
        assert await limiter.wait_time(key, 1) == 0
        assert await limiter.wait_time(key, 1) == 0
    # The provider says 2 a minute: the third waits about 30 s for a refill...
    assert 25 <= await limiter.wait_time("guess:m", 1) <= 30.1
    # ...unless LLM_REQUESTS_PER_MINUTE set the limit (600: one per 0.1 s).
    assert await limiter.wait_time("fixed:m", 1) <= 0.11


def _limiter(backend: str, redis: Redis, rpm: int, tpm: int) -> RateLimiter:
    return RedisRateLimiter(redis, rpm, tpm) if backend == "redis" else MemoryRateLimiter(rpm, tpm)


def test_rate_headers_of_both_protocols_are_read() -> None:
    openai = rate_info({
        "x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms", "x-ratelimit-limit-tokens": "200000",
        "x-ratelimit-remaining-tokens": "150000", "x-ratelimit-reset-tokens": "6m0s",
    })
    assert openai == RateInfo(500, 200_000, 499, 150_000, 0.12, 360.0)
    soon = (datetime.now(UTC) + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    anthropic = rate_info({
        "anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": soon,
        "anthropic-ratelimit-input-tokens-limit": "30000",
        "anthropic-ratelimit-input-tokens-remaining": "29000",
        "anthropic-ratelimit-input-tokens-reset": soon,
    })
    assert anthropic is not None
    assert (anthropic.limit_requests, anthropic.remaining_requests) == (50, 0)
    assert (anthropic.limit_tokens, anthropic.remaining_tokens) == (30_000, 29_000)
    assert anthropic.reset_requests_s is not None and 28 <= anthropic.reset_requests_s <= 30
    assert rate_info({"content-type": "application/json"}) is None


async def test_the_service_follows_the_providers_headers(
    llm_settings: Callable[..., Settings],
) -> None:
    """An answer saying no request remains for 2 s holds the next call back that long."""
    headers = {"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "0",
               "x-ratelimit-reset-requests": "2s"}
    fake = make_fake("openai", findings=[], rate_headers=lambda: headers)
    settings = llm_settings(**KEYS)
    parts = backends(settings, None)
    with serving(fake) as [server]:
        provider = build_provider("openai", MODELS["openai"], settings, primary=False,
                                  base_url=base_url("openai", server))
        handle = Handle(provider, model_info("openai", MODELS["openai"]))
        service = LLMService(settings, [handle], cache=parts.cache, limiter=parts.limiter,
                             breaker=parts.breaker, budgets=parts.budgets)
        try:
            await service.complete(review_request())
        finally:
            await service.aclose()
    assert 1.5 <= await parts.limiter.wait_time(handle.key, 1) <= 2.0


def test_presets_carry_rate_limits_and_settings_override_them(
    llm_settings: Callable[..., Settings],
) -> None:
    assert limits_for("openai", llm_settings()) == Limits(500, 200_000, adaptive=True)
    assert limits_for("anthropic", llm_settings()).rpm == 50
    fixed = limits_for("openai", llm_settings(LLM_REQUESTS_PER_MINUTE="30"))
    assert (fixed.rpm, fixed.tpm, fixed.adaptive) == (30, 200_000, False)
    assert all(p.requests_per_minute > 0 and p.tokens_per_minute > 0 for p in PRESETS.values())
