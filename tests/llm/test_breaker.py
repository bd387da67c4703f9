"""The circuit breaker: a provider that keeps failing is skipped for a cooldown (state in
Redis), so queued chunks go to the fallback at once; it is probed again afterwards."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from redis.asyncio import Redis

from bot.config import Settings
from bot.llm.breaker import MemoryCircuitBreaker, RedisCircuitBreaker
from tests.llm.helpers import KEYS, base_url, make_fake, make_service, review_request, serving


async def test_breaker_opens_is_shared_and_half_opens(redis: Redis) -> None:
    first = RedisCircuitBreaker(redis, threshold=2, cooldown_s=0.3)
    second = RedisCircuitBreaker(redis, threshold=2, cooldown_s=0.3)
    await first.failure("p:m")
    assert await second.allow("p:m")
    await second.failure("p:m")
    assert not await first.allow("p:m") and not await second.allow("p:m")
    await asyncio.sleep(0.35)
    assert await first.allow("p:m")  # the one probe
    assert not await second.allow("p:m")
    await first.success("p:m")
    assert await second.allow("p:m")


async def test_open_circuit_sends_chunks_straight_to_the_fallback(
    redis: Redis, llm_settings: Callable[..., Settings]
) -> None:
    settings = llm_settings(LLM_BREAKER_FAILURES="2", LLM_BREAKER_COOLDOWN_S="30",
                            LLM_MAX_RETRIES="4", **KEYS)
    broken, healthy = make_fake("openai", slow_s=1.0), make_fake("anthropic")
    broken.script.set(["503"] * 50)
    with serving(broken, healthy) as (bad, good):
        chain = [("openai", base_url("openai", bad)), ("anthropic", base_url("anthropic", good))]
        service = make_service(settings, chain, redis=redis)
        first = await service.complete(review_request(user="chunk 1"))
        tried = len(broken.requests)
        started = time.monotonic()
        rest = await asyncio.gather(*(
            service.complete(review_request(user=f"chunk {i}")) for i in range(2, 8)
        ))
        elapsed = time.monotonic() - started
        await service.aclose()
    assert tried == 2  # the circuit opened after two failures, before the retries ran out
    assert len(broken.requests) == tried  # queued chunks never touched the broken provider
    assert {r.provider for r in [first, *rest]} == {"anthropic"}
    assert elapsed < 2.0


async def test_provider_is_tried_again_after_the_cooldown(
    redis: Redis, llm_settings: Callable[..., Settings]
) -> None:
    settings = llm_settings(LLM_BREAKER_FAILURES="1", LLM_BREAKER_COOLDOWN_S="0.3",
                            LLM_MAX_RETRIES="0", **KEYS)
    flaky, backup = make_fake("anthropic"), make_fake("openai")
    flaky.script.set(["500"])
    with serving(flaky, backup) as (first, second):
        chain = [("anthropic", base_url("anthropic", first)),
                 ("openai", base_url("openai", second))]
        service = make_service(settings, chain, redis=redis)
        during = await service.complete(review_request(user="a"))
        skipped = await service.complete(review_request(user="b"))
        await asyncio.sleep(0.35)
        recovered = await service.complete(review_request(user="c"))
        await service.aclose()
    assert (during.provider, skipped.provider, recovered.provider) == (
        "openai", "openai", "anthropic",
    )
    assert len(flaky.requests) == 2  # the failure, then the probe after the cooldown


async def test_in_process_breaker_opens_probes_once_and_closes() -> None:
    breaker = MemoryCircuitBreaker(threshold=2, cooldown_s=0.2)
    await breaker.failure("p:m")
    assert await breaker.allow("p:m")
    await breaker.failure("p:m")
    assert not await breaker.allow("p:m")
    await asyncio.sleep(0.25)
    assert await breaker.allow("p:m")  # the one probe
    assert not await breaker.allow("p:m")
    await breaker.failure("p:m")
    await breaker.failure("p:m")  # the probe failed too: open again
    assert not await breaker.allow("p:m")
    await asyncio.sleep(0.25)
    assert await breaker.allow("p:m")
    await breaker.success("p:m")
    assert await breaker.allow("p:m") and await breaker.allow("p:m")
