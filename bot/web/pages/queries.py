"""The pages' queries, written to stay fast on large tables (bench/bench_pages.py: a
million findings in PostgreSQL). Long lists page by key, never by offset or total count:
"next page" carries the last row's key, so a deep page costs what the first one does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.findings import FindingStatus, Severity
from bot.store.models import AuditTask, FindingRecord, LLMUsage, Project
from bot.web.api.access import visible
from bot.web.api.paging import like_escaped
from bot.web.api.stats_queries import day_of

PAGE_SIZE = 25


@dataclass(frozen=True)
class Slice:
    rows: list[Any]
    next_key: str | None  # the "after" value of the next page; None on the last page


def _sliced(rows: Sequence[Any], key_of: Any) -> Slice:
    more = len(rows) > PAGE_SIZE
    kept = list(rows[:PAGE_SIZE])
    return Slice(kept, key_of(kept[-1]) if more and kept else None)


# Tasks: newest first, keyed by (created_at, id) --------------------------------------------


def _task_key(task: AuditTask) -> str:
    return f"{_aware(task.created_at).isoformat()}~{task.id}"


def _parse_task_key(after: str | None) -> tuple[datetime, str] | None:
    if not after or "~" not in after or len(after) > 120:
        return None
    when, _, task_id = after.partition("~")
    try:
        return datetime.fromisoformat(when), task_id
    except ValueError:
        return None


async def tasks_page(
    session: AsyncSession, where: ColumnElement[bool], after: str | None
) -> Slice:
    query = select(AuditTask).where(where)
    key = _parse_task_key(after)
    if key is not None:
        when, task_id = key
        query = query.where(or_(AuditTask.created_at < when,
                                and_(AuditTask.created_at == when, AuditTask.id < task_id)))
    rows = await session.scalars(query.order_by(AuditTask.created_at.desc(),
                                                AuditTask.id.desc()).limit(PAGE_SIZE + 1))
    return _sliced(list(rows), _task_key)


# Findings of a project: newest first, keyed by id -----------------------------------------


@dataclass(frozen=True)
class FindingFilters:
    state: str = "active"  # "active" (open or confirmed), "all", or one FindingStatus value
    severity: str | None = None
    category: str | None = None
    path: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.state == "active":
            where.append(FindingRecord.status.in_([s.value for s in FindingStatus if s.active]))
        elif self.state != "all":
            where.append(FindingRecord.status == self.state)
        if self.severity:
            where.append(FindingRecord.severity == self.severity)
        if self.category:
            where.append(FindingRecord.category == self.category)
        if self.path:
            if self.path.endswith("/"):
                where.append(FindingRecord.path.like(f"{like_escaped(self.path)}%", escape="\\"))
            else:
                where.append(FindingRecord.path == self.path)
        return where


async def findings_page(
    session: AsyncSession, project_id: int, filters: FindingFilters, after: str | None
) -> Slice:
    query = select(FindingRecord).where(FindingRecord.project_id == project_id,
                                        *filters.clauses())
    if after and after.isdigit() and len(after) < 12:
        query = query.where(FindingRecord.id < int(after))
    rows = await session.scalars(query.order_by(FindingRecord.id.desc()).limit(PAGE_SIZE + 1))
    return _sliced(list(rows), lambda row: str(row.id))


# The dashboard's figures -------------------------------------------------------------------


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def spend_by_project(
    session: AsyncSession, project_ids: list[int], since: datetime
) -> dict[int, float]:
    if not project_ids:
        return {}
    rows = await session.execute(
        select(LLMUsage.project_id, func.coalesce(func.sum(LLMUsage.cost_usd), 0.0))
        .where(LLMUsage.project_id.in_(project_ids), LLMUsage.created_at >= since)
        .group_by(LLMUsage.project_id))
    return {int(p): float(c) for p, c in rows if p is not None}


async def total_spend(session: AsyncSession, ids: set[int] | None, since: datetime) -> float:
    spent = await session.scalar(
        select(func.coalesce(func.sum(LLMUsage.cost_usd), 0.0))
        .where(LLMUsage.created_at >= since, visible(LLMUsage.project_id, ids)))
    return float(spent or 0.0)


async def total_budget(session: AsyncSession, ids: set[int] | None, default: float) -> float:
    """The visible projects' monthly budgets added up (a project without its own takes the
    server's default); 0 when any project is uncapped, since the sum then means nothing."""
    rows = await session.execute(
        select(Project.budget_monthly_usd, func.count()).where(visible(Project.id, ids))
        .group_by(Project.budget_monthly_usd))
    total = 0.0
    for budget, n in rows:
        value = default if budget is None else float(budget)
        if value <= 0:
            return 0.0
        total += value * int(n or 0)
    return total


@dataclass(frozen=True)
class LastTask:
    id: str
    status: str
    created_at: datetime


async def last_tasks(session: AsyncSession, project_ids: list[int]) -> dict[int, LastTask]:
    """Each project's latest audit, in two queries: a correlated subquery picks each
    project's latest id through the (project_id, created_at) index, then the rows."""
    if not project_ids:
        return {}
    latest = (select(AuditTask.id).where(AuditTask.project_id == Project.id)
              .order_by(AuditTask.created_at.desc(), AuditTask.id.desc()).limit(1)
              .correlate(Project).scalar_subquery())
    ids = [task_id for task_id in await session.scalars(
        select(latest).where(Project.id.in_(project_ids))) if task_id is not None]
    if not ids:
        return {}
    rows = await session.execute(
        select(AuditTask.id, AuditTask.project_id, AuditTask.status, AuditTask.created_at)
        .where(AuditTask.id.in_(ids)))
    return {int(row.project_id): LastTask(row.id, row.status, _aware(row.created_at))
            for row in rows if row.project_id is not None}


async def daily_counts(
    session: AsyncSession, ids: set[int] | None, days: int = 30
) -> tuple[list[str], dict[str, dict[str, int]]]:
    """Findings reported per day and severity over the last ``days`` days, added up from
    the audits' own counts (`AuditTask.counts`, written when an audit ends): a summary of
    a few thousand task rows instead of an aggregate over the findings table."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=days - 1)
    labels = [(since + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days)]
    sums = [func.coalesce(func.sum(AuditTask.counts[s.value].as_integer()), 0) for s in Severity]
    day = day_of(session, AuditTask.created_at).label("day")
    rows = await session.execute(
        select(day, *sums).where(AuditTask.created_at >= since, visible(AuditTask.project_id, ids))
        .group_by(day))
    table: dict[str, dict[str, int]] = {label: {} for label in labels}
    for label, *values in rows:
        if label in table:
            table[label] = {s.value: int(v or 0) for s, v in zip(Severity, values, strict=True)}
    return labels, table


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
