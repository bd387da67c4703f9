"""The dashboard at `/`: the projects the user can see, recent audits (running ones update
live over the WebSocket), findings per day over 30 days, and this month's spend against
the budgets."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from bot.store.models import AuditTask, Project
from bot.web.api.access import visible, visible_project_ids
from bot.web.pages import queries
from bot.web.pages.chart import stacked
from bot.web.pages.render import href, page
from bot.web.pages.viewer import signed_in, to_login

CHART_KEY = "auditbot:web:chart:"
CHART_TTL_S = 60


@dataclass(frozen=True)
class TaskRow:
    task: AuditTask
    label: str
    project_id: int | None
    project_name: str | None


def task_label(task: AuditTask) -> str:
    if task.pr_number is not None:
        return f"{task.kind} #{task.pr_number}"
    if task.head_ref:
        return f"{task.kind} {task.head_ref}"
    return f"{task.kind} {task.id[:8]}"


async def task_rows(db: Any, tasks: list[AuditTask]) -> list[TaskRow]:
    ids = sorted({t.project_id for t in tasks if t.project_id is not None})
    names = dict((await db.execute(select(Project.id, Project.full_name)
                                   .where(Project.id.in_(ids)))).all()) if ids else {}
    return [TaskRow(t, task_label(t), t.project_id, names.get(t.project_id)) for t in tasks]


async def chart_counts(
    redis: Redis, db: AsyncSession, ids: set[int] | None
) -> tuple[list[str], dict[str, dict[str, int]]]:
    """The 30-day table, kept a minute per set of visible projects: adding up a month of
    audits' counts is the dashboard's one costly query (15-50 ms with a million findings,
    bench/bench_pages.py), and a trend chart a minute old is still the trend."""
    scope = "all" if ids is None else ",".join(str(i) for i in sorted(ids))
    key = CHART_KEY + hashlib.sha256(scope.encode()).hexdigest()[:32]
    cached = await redis.get(key)
    if cached is not None:
        data = json.loads(cached)
        return list(data["days"]), dict(data["table"])
    days, table = await queries.daily_counts(db, ids)
    await redis.set(key, json.dumps({"days": days, "table": table}), ex=CHART_TTL_S)
    return days, table


def page_number(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "1")
    return max(1, min(int(raw), 100_000)) if raw.isdigit() else 1


async def dashboard(request: Request) -> Response:
    state = request.app.state
    async with state.sessions() as db:
        viewer = await signed_in(request, db)
        if viewer is None:
            return to_login("/")
        ids = await visible_project_ids(db, viewer.user)
        number = page_number(request, "projects")
        projects = list(await db.scalars(
            select(Project).where(visible(Project.id, ids))
            .order_by(Project.full_name, Project.id)
            .offset((number - 1) * queries.PAGE_SIZE).limit(queries.PAGE_SIZE + 1)))
        more_projects = len(projects) > queries.PAGE_SIZE
        projects = projects[:queries.PAGE_SIZE]
        since = queries.month_start()
        page_ids = [p.id for p in projects]
        spent = await queries.spend_by_project(db, page_ids, since)
        last = await queries.last_tasks(db, page_ids)
        default = state.settings.budget_project_monthly_usd
        rows = [{"project": p, "last": last.get(p.id), "spent": spent.get(p.id, 0.0),
                 "budget": default if p.budget_monthly_usd is None else p.budget_monthly_usd}
                for p in projects]
        after = request.query_params.get("tasks_after")
        tasks = await queries.tasks_page(db, visible(AuditTask.project_id, ids), after)
        days, table = await chart_counts(state.redis, db, ids)
        spend = {"spent": await queries.total_spend(db, ids, since),
                 "budget": await queries.total_budget(db, ids, default), "since": since}
        task_list = await task_rows(db, tasks.rows)
    params = dict(request.query_params)
    return page(
        request, "dashboard.html.j2", viewer,
        projects=rows,
        projects_first=href(params, projects=None) if number > 1 else None,
        projects_next=href(params, projects=number + 1) if more_projects else None,
        tasks=task_list,
        tasks_first=href(params, tasks_after=None) if after else None,
        tasks_next=href(params, tasks_after=tasks.next_key) if tasks.next_key else None,
        chart=stacked(days, table), spend=spend,
    )

