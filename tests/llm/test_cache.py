"""The answer cache: a repeat of the same chunk costs nothing and counts as a hit, in Redis
(shared by workers) and on disk (the local review)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from bot.config import Settings
from bot.llm.service import build_llm_service
from bot.llm.types import InvalidOutput
from bot.llm.usage import MemoryUsageSink
from tests.llm.helpers import KEYS, base_url, make_fake, make_service, review_request, serving


async def test_redis_cache_hit_costs_nothing_and_is_shared(
    redis: Redis, llm_settings: Callable[..., Settings]
) -> None:
    settings = llm_settings(**KEYS)
    fake = make_fake("openai")
    sink = MemoryUsageSink()
    with serving(fake) as (server,):
        chain = [("openai", base_url("openai", server))]
        first_worker = make_service(settings, chain, redis=redis, sink=sink)
        second_worker = make_service(settings, chain, redis=redis, sink=sink)
        first = await first_worker.complete(review_request(cache=True))
        again = await first_worker.complete(review_request(cache=True))
        elsewhere = await second_worker.complete(review_request(cache=True))
        changed = await second_worker.complete(review_request(user="another chunk", cache=True))
        await first_worker.aclose()
        await second_worker.aclose()
    assert len(fake.requests) == 2  # the first chunk once, the changed chunk once
    assert (first.cache_hit, again.cache_hit, elsewhere.cache_hit, changed.cache_hit) == (
        False, True, True, False,
    )
    assert first.cost_usd > 0 and again.cost_usd == 0 and elsewhere.cost_usd == 0
    assert again.parsed == first.parsed
    assert [r.cache_hit for r in sink.records] == [False, True, True, False]
    assert first_worker.cache_stats.hits == 1 and second_worker.cache_stats.hits == 1
    keys = [key async for key in redis.scan_iter("auditbot:llm:cache:*")]
    assert len(keys) == 2
    assert 0 < await redis.ttl(keys[0]) <= settings.llm_cache_ttl_s


async def test_prompt_version_and_model_are_part_of_the_key(
    redis: Redis, llm_settings: Callable[..., Settings]
) -> None:
    fake = make_fake("openai")
    with serving(fake) as (server,):
        service = make_service(llm_settings(**KEYS), [("openai", base_url("openai", server))],
                               redis=redis)
        await service.complete(review_request(cache=True, prompt_version="1"))
        bumped = await service.complete(review_request(cache=True, prompt_version="2"))
        uncached = await service.complete(review_request(cache=False))
        await service.aclose()
    assert not bumped.cache_hit and not uncached.cache_hit
    assert len(fake.requests) == 3


async def test_invalid_answers_are_not_cached(
    redis: Redis, llm_settings: Callable[..., Settings]
) -> None:
    fake = make_fake("anthropic")
    fake.script.set(["invalid_json", "invalid_json"])
    with serving(fake) as (server,):
        chain = [("anthropic", base_url("anthropic", server))]
        service = make_service(llm_settings(**KEYS), chain, redis=redis)
        with pytest.raises(InvalidOutput):
            await service.complete(review_request(cache=True))
        result = await service.complete(review_request(cache=True))
        await service.aclose()
    assert not result.cache_hit and result.parsed is not None
    assert len(fake.requests) == 3


async def test_disk_cache_without_redis_survives_a_new_process(
    llm_settings: Callable[..., Settings],
) -> None:
    fake = make_fake("openai")
    with serving(fake) as (server,):
        settings = llm_settings(LLM_PROVIDER="openai", LLM_BASE_URL=base_url("openai", server),
                                **KEYS)
        for _ in range(2):  # two separate `auditbot review` runs on the same DATA_DIR
            service = build_llm_service(settings, None)
            assert service is not None
            result = await service.complete(review_request(cache=True))
            await service.aclose()
    assert result.cache_hit and result.parsed is not None
    assert len(fake.requests) == 1
    assert list((settings.data_dir / "llm-cache").rglob("*.json"))
