"""Budget overrides stored in the database, applied to the LLM service when a task starts.

Redis holds the running totals; if it lost a month's counter (a restart without
persistence), the month is re-seeded from the usage rows, so a budget still holds.
"""

from __future__ import annotations

from bot.jobs.deps import JobDeps
from bot.store.llm_usage import DbUsageSink
from bot.store.models import Installation, Project


async def apply_budgets(deps: JobDeps, project_id: int, task_id: str) -> int | None:
    """Set this task's caps; returns the internal installation id (for its monthly cap)."""
    if deps.llm is None:
        return None
    async with deps.sessions() as session:
        project = await session.get(Project, project_id)
        installation = (
            await session.get(Installation, project.installation_id)
            if project is not None and project.installation_id is not None
            else None
        )
    if project is None:
        return None
    budgets = deps.llm.budgets
    if project.budget_per_task_usd is not None:
        budgets.set_task_cap(task_id, project.budget_per_task_usd)
    if project.budget_monthly_usd is not None:
        budgets.set_project_monthly(project_id, project.budget_monthly_usd)
    usage = DbUsageSink(deps.sessions)
    await budgets.seed_month(await usage.month_cost(project_id=project_id), project_id=project_id)
    if installation is None:
        return None
    if installation.budget_monthly_usd is not None:
        budgets.set_installation_monthly(installation.id, installation.budget_monthly_usd)
    await budgets.seed_month(
        await usage.month_cost(installation_id=installation.id), installation_id=installation.id
    )
    return installation.id


def release_budgets(deps: JobDeps, task_id: str) -> None:
    """Forget the task's cap override once the task ends (a worker runs for months)."""
    if deps.llm is not None:
        deps.llm.budgets.forget_task(task_id)
