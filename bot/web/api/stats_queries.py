"""Statistics as SQL aggregates that read the same on SQLite and PostgreSQL. Every query takes
a scope (a WHERE clause on the table's project column) and a start time."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import AuditTask, FindingRecord, LLMUsage


def day_of(session: AsyncSession, column: Any) -> ColumnElement[str]:
    """'YYYY-MM-DD' of a UTC timestamp column, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


async def findings_summary(
    session: AsyncSession, scope: ColumnElement[bool], since: datetime, top: int
) -> dict[str, Any]:
    where = [scope, FindingRecord.created_at >= since]
    day = day_of(session, FindingRecord.created_at).label("day")
    per_day: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: {"by_severity": {}, "by_category": {}}
    )
    by_severity: dict[str, int] = {}
    by_category: dict[str, int] = {}
    rows = await session.execute(
        select(day, FindingRecord.severity, FindingRecord.category, func.count())
        .where(*where).group_by(day, FindingRecord.severity, FindingRecord.category)
    )
    for d, severity, category, n in rows:
        bucket = per_day[d]
        bucket["by_severity"][severity] = bucket["by_severity"].get(severity, 0) + n
        bucket["by_category"][category] = bucket["by_category"].get(category, 0) + n
        by_severity[severity] = by_severity.get(severity, 0) + n
        by_category[category] = by_category.get(category, 0) + n
    by_status = dict(
        (s, n) for s, n in await session.execute(
            select(FindingRecord.status, func.count()).where(*where)
            .group_by(FindingRecord.status)
        )
    )
    rule = func.coalesce(FindingRecord.rule_id, FindingRecord.source).label("rule")
    n_rule = func.count().label("n")
    top_rules = [
        {"rule": r, "count": n} for r, n in await session.execute(
            select(rule, n_rule).where(*where).group_by(rule).order_by(n_rule.desc(), rule)
            .limit(top)
        )
    ]
    n_file = func.count().label("n")
    top_files = [
        {"project_id": p, "path": path, "count": n} for p, path, n in await session.execute(
            select(FindingRecord.project_id, FindingRecord.path, n_file).where(*where)
            .group_by(FindingRecord.project_id, FindingRecord.path)
            .order_by(n_file.desc(), FindingRecord.path).limit(top)
        )
    ]
    return {
        "total": sum(by_severity.values()),
        "by_severity": by_severity,
        "by_category": by_category,
        "by_status": by_status,
        "per_day": [{"day": d, **per_day[d]} for d in sorted(per_day)],
        "top_rules": top_rules,
        "top_files": top_files,
    }


async def llm_summary(
    session: AsyncSession, scope: ColumnElement[bool], since: datetime
) -> dict[str, Any]:
    where = [scope, LLMUsage.created_at >= since]
    sums = (
        func.count(),
        func.coalesce(func.sum(LLMUsage.input_tokens), 0),
        func.coalesce(func.sum(LLMUsage.output_tokens), 0),
        func.coalesce(func.sum(LLMUsage.cached_tokens), 0),
        func.coalesce(func.sum(LLMUsage.cost_usd), 0.0),
        func.coalesce(func.sum(case((LLMUsage.cache_hit.is_(True), 1), else_=0)), 0),
    )

    def row(values: Any) -> dict[str, Any]:
        calls, tin, tout, cached, cost, hits = values
        return {"calls": int(calls), "input_tokens": int(tin), "output_tokens": int(tout),
                "cached_tokens": int(cached), "cost_usd": round(float(cost), 6),
                "cache_hits": int(hits)}

    day = day_of(session, LLMUsage.created_at).label("day")
    per_day = [
        {"day": r[0], **row(r[1:])} for r in await session.execute(
            select(day, *sums).where(*where).group_by(day).order_by(day)
        )
    ]
    by_model = [
        {"provider": r[0], "model": r[1], **row(r[2:])} for r in await session.execute(
            select(LLMUsage.provider, LLMUsage.model, *sums).where(*where)
            .group_by(LLMUsage.provider, LLMUsage.model)
            .order_by(LLMUsage.provider, LLMUsage.model)
        )
    ]
    totals = row((await session.execute(select(*sums).where(*where))).one())
    rate = totals["cache_hits"] / totals["calls"] if totals["calls"] else None
    return {"totals": totals, "cache_hit_rate": rate, "per_day": per_day, "by_model": by_model}


async def task_summary(
    session: AsyncSession, scope: ColumnElement[bool], since: datetime
) -> dict[str, Any]:
    where = [scope, AuditTask.created_at >= since]
    by_status = dict(
        (s, n) for s, n in await session.execute(
            select(AuditTask.status, func.count()).where(*where).group_by(AuditTask.status)
        )
    )
    by_kind = dict(
        (k, n) for k, n in await session.execute(
            select(AuditTask.kind, func.count()).where(*where).group_by(AuditTask.kind)
        )
    )
    # Durations are computed here rather than in SQL: interval arithmetic differs per engine.
    spans = await session.execute(
        select(AuditTask.started_at, AuditTask.finished_at).where(
            *where, AuditTask.started_at.is_not(None), AuditTask.finished_at.is_not(None)
        )
    )
    durations = sorted(
        max(0.0, (_aware(end) - _aware(start)).total_seconds())
        for start, end in spans
        if start is not None and end is not None
    )
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_kind": by_kind,
        "duration_s": _spread(durations),
    }


def _spread(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p95": None, "max": None}
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return {"count": len(values), "mean": round(statistics.fmean(values), 3),
            "p50": round(statistics.median(values), 3), "p95": round(p95, 3),
            "max": round(values[-1], 3)}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
