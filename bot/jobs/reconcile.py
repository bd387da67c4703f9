"""The reconciler (an arq cron job): no check run stays "in progress" forever.

A task still queued or running long after its time limit lost its worker in a way arq
could not recover (its job is gone from Redis): the task is failed and its check run
concluded with the reason. A task whose arq job still exists is left to arq, which
re-runs jobs of dead workers once their in-progress key expires.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from arq.jobs import Job, JobStatus

from bot.errors import AuditbotError
from bot.forges.base import CheckUpdate
from bot.jobs.contracts import Repository
from bot.jobs.deps import deps_of
from bot.store import audits
from bot.store.models import AuditTask, Installation, Project
from bot.web.auth import report_url

log = logging.getLogger(__name__)

GRACE_S = 120


async def reconcile(ctx: dict[str, Any]) -> int:
    """Conclude stale tasks; returns how many it concluded."""
    deps = deps_of(ctx)
    limit = deps.settings.job_timeout_s + GRACE_S
    stale = await audits.stale_tasks(deps.sessions, audits.now() - timedelta(seconds=limit))
    concluded = 0
    for task in stale:
        if task.job_id:
            status = await Job(task.job_id, deps.redis).status()
            if status in (JobStatus.queued, JobStatus.deferred, JobStatus.in_progress):
                continue
        reason = f"the audit stopped without finishing (no worker completed it within {limit} s)"
        await audits.finish_task(
            deps.sessions, task.id, status="failed", conclusion="timed_out", error=reason
        )
        await _conclude_check(ctx, task, reason)
        concluded += 1
    if concluded:
        log.warning("reconciler concluded %d stale task(s)", concluded)
    return concluded


async def _conclude_check(ctx: dict[str, Any], task: AuditTask, reason: str) -> None:
    deps = deps_of(ctx)
    if not task.check_run_id or task.project_id is None:
        return
    async with deps.sessions() as session:
        project = await session.get(Project, task.project_id)
        installation = (
            await session.get(Installation, project.installation_id)
            if project is not None and project.installation_id is not None
            else None
        )
    if project is None or project.kind not in ("github", "gitlab") or project.external_id is None:
        return
    repo = Repository(
        forge=project.kind,  # type: ignore[arg-type]
        id=project.external_id,
        full_name=project.full_name,
        default_branch=project.default_branch,
        installation_id=installation.external_id if installation is not None else None,
    )
    try:
        forge = await deps.forges(repo)
        try:
            await forge.update_check(
                task.check_run_id,
                CheckUpdate(
                    status="completed",
                    conclusion="timed_out",
                    title="Audit stopped",
                    summary=reason,
                    details_url=report_url(deps.settings, task.id),
                ),
            )
        finally:
            await forge.close()
    except AuditbotError as exc:
        log.warning("could not conclude the check of task %s: %s", task.id, exc)
