"""Budgets: reserved atomically before a call, settled after; a task that would exceed its
budget skips the LLM and says so."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from bot.config import Settings
from bot.errors import BudgetExceeded
from bot.errors import BudgetExceeded as BudgetExhausted
from bot.llm.budget import Budgets, MemoryBudgetStore, RedisBudgetStore
from bot.llm.pricing import model_info
from bot.llm.types import InvalidOutput, Usage
from tests.llm.helpers import (
    KEYS,
    MODELS,
    PROTOCOLS,
    base_url,
    make_fake,
    make_service,
    review_request,
    serving,
)


async def test_task_over_budget_skips_the_llm(
    redis: Redis, llm_settings: Callable[..., Settings]
) -> None:
    fake = make_fake("openai")
    with serving(fake) as (server,):
        service = make_service(llm_settings(BUDGET_PER_TASK_USD="0.0001", **KEYS),
                               [("openai", base_url("openai", server))], redis=redis)
        with pytest.raises(BudgetExceeded) as raised:
            await service.complete(review_request(task_id="t-1", max_output_tokens=4096))
        await service.aclose()
    assert fake.requests == []  # nothing was sent, nothing spent
    assert isinstance(raised.value, BudgetExhausted) and raised.value.scope == "task"
    assert "offline analyzers still run" in str(raised.value)


async def test_reservation_is_settled_with_the_real_cost(
    redis: Redis, llm_settings: Callable[..., Settings]
) -> None:
    fake = make_fake("openai")
    with serving(fake) as (server,):
        service = make_service(llm_settings(**KEYS), [("openai", base_url("openai", server))],
                               redis=redis)
        service.budgets.set_project_monthly(7, 1.0)
        result = await service.complete(review_request(task_id="t-2", project_id=7))
        task_spent = await service.budgets.spent_usd(task_id="t-2")
        project_spent = await service.budgets.spent_usd(project_id=7)
        await service.aclose()
    assert task_spent == pytest.approx(result.cost_usd, abs=1e-6)
    assert project_spent == pytest.approx(result.cost_usd, abs=1e-6)


async def test_monthly_project_override_stops_the_call(
    llm_settings: Callable[..., Settings],
) -> None:
    fake = make_fake("anthropic")
    with serving(fake) as (server,):
        service = make_service(llm_settings(**KEYS), [("anthropic", base_url("anthropic", server))])
        service.budgets.set_project_monthly(3, 0.000001)
        with pytest.raises(BudgetExhausted) as raised:
            await service.complete(review_request(project_id=3))
        await service.aclose()
    assert raised.value.scope == "project" and fake.requests == []


@pytest.mark.parametrize("shared", ["redis", "memory"])
async def test_parallel_reservations_never_overshoot(
    shared: str, redis: Redis, llm_settings: Callable[..., Settings]
) -> None:
    settings = llm_settings(BUDGET_PER_TASK_USD="0.05")
    if shared == "redis":  # two workers, one Redis
        budgets = [Budgets(settings, RedisBudgetStore(redis)) for _ in range(2)]
    else:
        store = MemoryBudgetStore()
        budgets = [Budgets(settings, store)]

    async def one(index: int) -> bool:
        try:
            await budgets[index % len(budgets)].reserve(0.01, "task-x", None, None)
        except BudgetExhausted:
            return False
        return True

    granted = await asyncio.gather(*(one(i) for i in range(40)))
    assert sum(granted) == 5
    assert await budgets[0].spent_usd(task_id="task-x") == pytest.approx(0.05)


async def test_zero_means_no_cap(llm_settings: Callable[..., Settings]) -> None:
    budgets = Budgets(llm_settings(BUDGET_PER_TASK_USD="0"), MemoryBudgetStore())
    for _ in range(10):
        await budgets.reserve(100.0, "big", None, None)
    assert await budgets.spent_usd(task_id="big") == 1000.0


async def test_installation_month_is_shared_by_its_projects(
    redis: Redis, llm_settings: Callable[..., Settings]
) -> None:
    # Two projects of one installation, each far under its own monthly cap: the
    # installation's cap, counted across both, is what stops the third call.
    settings = llm_settings(BUDGET_INSTALLATION_MONTHLY_USD="0.25",
                            BUDGET_PROJECT_MONTHLY_USD="10")
    budgets = Budgets(settings, RedisBudgetStore(redis))
    first = await budgets.reserve(0.10, "t-a", 1, 42)
    await budgets.reserve(0.10, "t-b", 2, 42)
    with pytest.raises(BudgetExhausted) as raised:
        await budgets.reserve(0.10, "t-c", 1, 42)
    assert raised.value.scope == "installation" and raised.value.limit_usd == 0.25
    assert await budgets.spent_usd(project_id=1) == pytest.approx(0.10)  # nothing half-taken
    await budgets.settle(first, 0.02)  # the call cost less than reserved: room comes back
    await budgets.reserve(0.10, "t-c", 1, 42)
    assert await budgets.spent_usd(installation_id=42) == pytest.approx(0.22)
    other = Budgets(settings, RedisBudgetStore(redis))
    other.set_installation_monthly(42, 0)  # an override of 0 lifts the cap
    await other.reserve(1.0, "t-d", 2, 42)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("room", ["one call", "two calls"])
async def test_fixup_request_needs_its_own_room_in_the_budget(
    protocol: str, room: str, redis: Redis, llm_settings: Callable[..., Settings]
) -> None:
    # Every answer uses all 1,024 output tokens (as a truncated one does). A cap with room
    # for the first call only must stop the fix-up request; with room for two, it is sent.
    full_call = model_info(protocol, MODELS[protocol]).cost(Usage(1_000, 1_024))
    cap = full_call * (1.5 if room == "one call" else 3.0)
    fake = make_fake(protocol, output_tokens=1_024)
    fake.script.set(["invalid_json"])
    with serving(fake) as (server,):
        service = make_service(
            llm_settings(BUDGET_PER_TASK_USD=f"{cap:.6f}", **KEYS),
            [(protocol, base_url(protocol, server))], redis=redis,
        )
        try:
            if room == "one call":
                with pytest.raises(InvalidOutput) as raised:
                    await service.complete(review_request(task_id="t-fix"))
                assert "fix-up request failed: task budget exhausted" in raised.value.reason
            else:
                result = await service.complete(review_request(task_id="t-fix"))
                assert any(r.startswith("fix-up request") for r in result.repairs)
            spent = await service.budgets.spent_usd(task_id="t-fix")
        finally:
            await service.aclose()
    assert len(fake.requests) == (1 if room == "one call" else 2)
    assert 0 < spent <= cap  # settled to the real cost, never past the cap
