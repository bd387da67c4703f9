"""Budget overrides stored in the database, applied to the LLM service when a task starts.

Redis holds the running totals; if it lost a month's counter (a restart without
persistence), the month is re-seeded from the usage rows, so a budget still holds.
"""

from __future__ import annotations

from bot.jobs.deps import JobDeps
from bot.store.audits import project_ref
from bot.store.llm_usage import DbUsageSink


async def apply_budgets(deps: JobDeps, project_id: int, task_id: str) -> int | None:
    """Set this task's project; returns the internal installation id (for its monthly cap)."""
    if deps.llm is None:
        return None
    project = await project_ref(deps.sessions, project_id)
    if project is None:
        return None
    budgets = deps.llm.budgets
    if project.budget_per_task_usd is not None:
        budgets.set_task_cap(task_id, project.budget_per_task_usd)
    if project.budget_monthly_usd is not None:
        budgets.set_project_monthly(project_id, project.budget_monthly_usd)
    usage = DbUsageSink(deps.sessions)
    await budgets.seed_month(await usage.month_cost(project_id=project_id), project_id=project_id)
    if project.installation_id is None:
        return None
    if project.installation_budget_monthly_usd is not None:
        budgets.set_installation_monthly(
            project.installation_id, project.installation_budget_monthly_usd
        )
    await budgets.seed_month(
        await usage.month_cost(installation_id=project.installation_id),
        installation_id=project.installation_id,
    )
    return project.installation_id


def release_budgets(deps: JobDeps, task_id: str) -> None:
    """Forget the task's cap override once the task ends (a worker runs for months)."""
    if deps.llm is not None:
        deps.llm.budgets.forget_task(task_id)
