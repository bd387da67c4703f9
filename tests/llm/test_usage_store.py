"""Every call is recorded as an LLMUsage row through the database sink."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from bot.config import Settings
from bot.errors import BudgetExceeded as BudgetExhausted
from bot.llm.budget import Budgets, RedisBudgetStore
from bot.llm.types import LLMFailure
from bot.llm.usage import UsageRecord
from bot.store.db import create_engine, session_factory
from bot.store.llm_usage import DbUsageSink
from bot.store.models import Base, LLMUsage, Project
from tests.llm.helpers import KEYS, base_url, make_fake, make_service, review_request, serving


async def test_calls_and_hits_become_rows(
    sqlite_url: str, llm_settings: Callable[..., Settings]
) -> None:
    engine = create_engine(sqlite_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    sessions = session_factory(engine)
    fake = make_fake("openai", cached_tokens=8)
    fake.script.set(["ok", "500", "500", "500"])
    try:
        with serving(fake) as (server,):
            service = make_service(llm_settings(**KEYS), [("openai", base_url("openai", server))],
                                   sink=DbUsageSink(sessions))
            first = await service.complete(review_request(cache=True))
            await service.complete(review_request(cache=True))
            with pytest.raises(LLMFailure):
                await service.complete(review_request(user="other"))
            await service.aclose()
        async with sessions() as session:
            rows = (await session.scalars(select(LLMUsage).order_by(LLMUsage.id))).all()
    finally:
        await engine.dispose()
    assert [(r.cache_hit, r.ok) for r in rows] == [(False, True), (True, True), (False, False)]
    assert rows[0].provider == "openai" and rows[0].model == "gpt-4.1-mini"
    assert rows[0].input_tokens == first.usage.input_tokens > 0
    assert rows[0].cached_tokens == 8
    assert rows[0].cost_usd == first.cost_usd > 0 and rows[1].cost_usd == 0
    assert rows[2].error is not None and "HTTP 500" in rows[2].error


async def test_monthly_budget_is_seeded_from_the_rows(
    sqlite_url: str, redis: Redis, llm_settings: Callable[..., Settings]
) -> None:
    engine = create_engine(sqlite_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add(Project(id=5, kind="github", full_name="acme/api"))
    sink = DbUsageSink(sessions)
    for cost in (0.25, 0.5):
        await sink.record(UsageRecord(
            provider="openai", model="gpt-4.1-mini", input_tokens=1, output_tokens=1,
            cached_tokens=0, cost_usd=cost, latency_ms=1, cache_hit=False, ok=True, project_id=5,
        ))
    spent = await sink.month_cost(project_id=5)
    await engine.dispose()
    assert spent == 0.75
    # Redis lost its counters (a restart): the month starts from the rows, not from zero.
    budgets = Budgets(llm_settings(BUDGET_PROJECT_MONTHLY_USD="1.0"), RedisBudgetStore(redis))
    assert await budgets.seed_month(spent, project_id=5)
    assert not await budgets.seed_month(0.0, project_id=5)  # never overwrites a live counter
    with pytest.raises(BudgetExhausted):
        await budgets.reserve(0.30, None, 5, None)
    await budgets.reserve(0.20, None, 5, None)
