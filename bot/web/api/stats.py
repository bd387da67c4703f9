"""Statistics (per project and overall) and usage against budgets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, select

from bot.jobs.contracts import QUEUE_NAME
from bot.store.models import AuditTask, FindingRecord, Installation, LLMUsage, Project
from bot.web.api.access import get_project, visible, visible_project_ids
from bot.web.api.spec import Call, Operation
from bot.web.api.stats_queries import findings_summary, llm_summary, task_summary


class StatsQuery(BaseModel):
    days: int = Field(default=30, ge=1, le=366)
    top: int = Field(default=10, ge=1, le=100)


class DayFindings(BaseModel):
    day: str
    by_severity: dict[str, int]
    by_category: dict[str, int]


class RuleCount(BaseModel):
    rule: str
    count: int


class FileCount(BaseModel):
    project_id: int | None
    path: str
    count: int


class FindingStats(BaseModel):
    total: int
    by_severity: dict[str, int]
    by_category: dict[str, int]
    by_status: dict[str, int]
    per_day: list[DayFindings]
    top_rules: list[RuleCount]
    top_files: list[FileCount]


class UsageNumbers(BaseModel):
    calls: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    cache_hits: int


class DayUsage(UsageNumbers):
    day: str


class ModelUsage(UsageNumbers):
    provider: str
    model: str


class LLMStats(BaseModel):
    totals: UsageNumbers
    cache_hit_rate: float | None
    per_day: list[DayUsage]
    by_model: list[ModelUsage]


class Durations(BaseModel):
    count: int
    mean: float | None
    p50: float | None
    p95: float | None
    max: float | None


class TaskStats(BaseModel):
    total: int
    by_status: dict[str, int]
    by_kind: dict[str, int]
    duration_s: Durations


class StatsOut(BaseModel):
    project_id: int | None
    since: datetime
    days: int
    findings: FindingStats
    llm: LLMStats
    tasks: TaskStats
    queue_depth: int = Field(description="Jobs waiting in the arq queue (all projects).")


class BudgetLine(BaseModel):
    scope: str  # "project" | "installation"
    id: int
    name: str
    month_cost_usd: float
    budget_usd: float | None = Field(description="Monthly budget; null or 0 means no cap.")
    remaining_usd: float | None
    used_fraction: float | None


class UsageOut(BaseModel):
    month_start: datetime
    total_cost_usd: float
    per_task_budget_usd: float
    projects: list[BudgetLine]
    installations: list[BudgetLine]


async def _stats(
    call: Call, project_id: int | None, scope: dict[str, ColumnElement[bool]]
) -> StatsOut:
    query: StatsQuery = call.query
    since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=query.days - 1
    )
    return StatsOut(
        project_id=project_id,
        since=since,
        days=query.days,
        findings=FindingStats.model_validate(
            await findings_summary(call.session, scope["findings"], since, query.top)
        ),
        llm=LLMStats.model_validate(await llm_summary(call.session, scope["llm"], since)),
        tasks=TaskStats.model_validate(await task_summary(call.session, scope["tasks"], since)),
        queue_depth=int(await call.redis.zcard(QUEUE_NAME)),
    )


async def overall(call: Call) -> StatsOut:
    ids = await visible_project_ids(call.session, call.me)
    return await _stats(call, None, {
        "findings": visible(FindingRecord.project_id, ids),
        "llm": visible(LLMUsage.project_id, ids),
        "tasks": visible(AuditTask.project_id, ids),
    })


async def per_project(call: Call) -> StatsOut:
    project = await get_project(call.session, call.me, call.params["project_id"])
    return await _stats(call, project.id, {
        "findings": FindingRecord.project_id == project.id,
        "llm": LLMUsage.project_id == project.id,
        "tasks": AuditTask.project_id == project.id,
    })


def _line(scope: str, id_: int, name: str, cost: float, budget: float | None) -> BudgetLine:
    capped = budget is not None and budget > 0
    return BudgetLine(
        scope=scope, id=id_, name=name, month_cost_usd=round(cost, 6), budget_usd=budget,
        remaining_usd=round(max(0.0, budget - cost), 6) if capped and budget else None,
        used_fraction=round(cost / budget, 6) if capped and budget else None,
    )


async def usage(call: Call) -> UsageOut:
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    ids = await visible_project_ids(call.session, call.me)
    cost = func.coalesce(func.sum(LLMUsage.cost_usd), 0.0)
    spent = dict(
        (p, float(c)) for p, c in await call.session.execute(
            select(LLMUsage.project_id, cost)
            .where(LLMUsage.created_at >= month_start, visible(LLMUsage.project_id, ids))
            .group_by(LLMUsage.project_id)
        )
    )
    projects = await call.session.scalars(
        select(Project).where(visible(Project.id, ids)).order_by(Project.full_name, Project.id)
    )
    default = call.settings.budget_project_monthly_usd
    lines = [
        _line("project", p.id, p.full_name, spent.get(p.id, 0.0),
              p.budget_monthly_usd if p.budget_monthly_usd is not None else default)
        for p in projects
    ]
    installations: list[BudgetLine] = []
    if ids is None:
        by_installation = dict(
            (i, float(c)) for i, c in await call.session.execute(
                select(LLMUsage.installation_id, cost)
                .where(LLMUsage.created_at >= month_start).group_by(LLMUsage.installation_id)
            )
        )
        default_inst = call.settings.budget_installation_monthly_usd
        for inst in await call.session.scalars(select(Installation).order_by(Installation.id)):
            budget = inst.budget_monthly_usd
            if budget is None:
                budget = default_inst
            installations.append(_line("installation", inst.id, inst.account_login,
                                       by_installation.get(inst.id, 0.0), budget))
    total = sum(spent.values())
    return UsageOut(month_start=month_start, total_cost_usd=round(total, 6),
                    per_task_budget_usd=call.settings.budget_per_task_usd,
                    projects=lines, installations=installations)


OPERATIONS = [
    Operation("GET", "/api/v1/stats", overall, "Statistics over every visible project",
              "statistics", query=StatsQuery, response=StatsOut),
    Operation("GET", "/api/v1/projects/{project_id:int}/stats", per_project,
              "Statistics of one project", "statistics", query=StatsQuery, response=StatsOut),
    Operation("GET", "/api/v1/usage", usage, "This month's LLM costs against budgets",
              "statistics", response=UsageOut),
]
