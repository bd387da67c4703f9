"""The usage sink that writes one LLMUsage row per call, for statistics, costs and the
monthly budget history."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.llm.usage import UsageRecord
from bot.store.models import LLMUsage

log = logging.getLogger(__name__)


class DbUsageSink:
    """Writes each record in its own short transaction; a failed write is logged, never
    raised, so bookkeeping trouble cannot fail an audit (the budget counters in Redis are
    what stop spending)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, record: UsageRecord) -> None:
        row = LLMUsage(
            task_id=record.task_id,
            project_id=record.project_id,
            installation_id=record.installation_id,
            provider=record.provider[:32],
            model=record.model[:255],
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            cached_tokens=record.cached_tokens,
            cost_usd=record.cost_usd,
            latency_ms=record.latency_ms,
            cache_hit=record.cache_hit,
            ok=record.ok,
            error=record.error,
        )
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
        except SQLAlchemyError as exc:
            log.warning("could not store LLM usage for task %s: %s", record.task_id, exc)

    async def month_cost(
        self, *, project_id: int | None = None, installation_id: int | None = None,
        now: dt.datetime | None = None,
    ) -> float:
        """What one project or installation spent this calendar month (UTC), from the rows;
        feeds :meth:`bot.llm.budget.Budgets.seed_month`."""
        if (project_id is None) == (installation_id is None):
            raise ValueError("give exactly one of project_id, installation_id")
        now = now or dt.datetime.now(dt.UTC)
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        column = LLMUsage.project_id if project_id is not None else LLMUsage.installation_id
        query = select(func.coalesce(func.sum(LLMUsage.cost_usd), 0.0)).where(
            column == (project_id if project_id is not None else installation_id),
            LLMUsage.created_at >= start,
        )
        async with self._sessions() as session:
            return float(await session.scalar(query) or 0.0)
