"""`run_command`: what a person asked for in a PR comment.

`/audit` reviews the PR's head now; `/audit full` scans the whole repository at the PR's
head; `/audit cancel` stops this PR's queued or running audits; `/audit help` (and any
unknown sub-command) answers with the list. On GitLab the author must have at least
Developer access to the project; on GitHub the web process already required OWNER,
MEMBER or COLLABORATOR. Anyone else gets nothing, silently.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import select

from bot.forges.base import ChangeTarget, CheckUpdate, Forge
from bot.jobs.contracts import ReviewPullRequest, RunCommand
from bot.jobs.deps import JobDeps, deps_of, task_for_job
from bot.jobs.review import ReviewRun, abort_job
from bot.jobs.scans import ScanContext, run_tree_scan
from bot.logs import bind
from bot.signing import report_url
from bot.store import audits
from bot.store.models import AuditTask

log = logging.getLogger(__name__)

HELP = """**auditbot commands** (for people with write access to the repository)

| command | what it does |
| --- | --- |
| `/audit` | review this pull request's latest commit now |
| `/audit full` | scan the whole repository at this pull request's head |
| `/audit cancel` | stop this pull request's queued or running audits |
| `/audit help` | show this list |

`@{slug} review` works like `/audit`."""


@runtime_checkable
class Commenter(Protocol):
    async def post_comment(self, target: ChangeTarget, body: str) -> str: ...


@runtime_checkable
class AccessChecker(Protocol):
    async def can_trigger(self, username: str) -> bool: ...


async def run_command(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = RunCommand.model_validate(payload)
    deps = deps_of(ctx)
    job_id = str(ctx.get("job_id") or f"run_command:{job.delivery_id}")
    with bind(delivery_id=job.delivery_id):
        forge = await deps.forges(job.repository)
        try:
            if job.repository.forge == "gitlab" and not await _may_trigger(forge, job.author):
                log.info("command from %s ignored: below Developer access", job.author)
                return "ignored"
            target = ChangeTarget(number=job.number)
            if job.command == "help":
                await _reply(
                    forge, target, HELP.replace("{slug}", deps.settings.app_slug or "auditbot")
                )
                return "help"
            if job.command == "cancel":
                cancelled = await cancel_pull_request(deps, forge, job)
                await _reply(
                    forge, target, f"auditbot: cancelled {cancelled} audit(s) of this pull request."
                )
                return "cancelled"
            change = await forge.fetch_change(target)
            if job.command == "full":
                return await _full_scan(deps, forge, job, change.head_sha, job_id)
            review = ReviewPullRequest(
                repository=job.repository,
                number=job.number,
                head_sha=change.head_sha,
                author=None,
                trigger=f"comment:/audit by {job.author}",
                requested_by=job.author,
                delivery_id=job.delivery_id,
            )
        finally:
            await forge.close()
    return await ReviewRun(deps, review, job_id, int(ctx.get("job_try") or 1)).run()


async def _full_scan(
    deps: JobDeps, forge: Forge, job: RunCommand, head_sha: str, job_id: str
) -> str:
    repo = job.repository
    project_id, task_id, _ = await task_for_job(
        deps,
        repo,
        job_id,
        kind="repository",
        trigger="command",
        delivery_id=job.delivery_id,
        pr_number=job.number,
        head_ref=head_sha,
        head_sha=head_sha,
    )
    scan = ScanContext(deps, task_id, project_id)
    return await run_tree_scan(scan, forge, head_sha, config_ref=repo.default_branch or head_sha)


async def cancel_pull_request(deps: JobDeps, forge: Forge, job: RunCommand) -> int:
    """Stop every queued or running audit of this PR; their checks say who cancelled."""
    project_id = await audits.ensure_project(
        deps.sessions,
        kind=job.repository.forge,
        external_id=job.repository.id,
        full_name=job.repository.full_name,
    )
    async with deps.sessions() as session:
        query = select(AuditTask).where(
            AuditTask.project_id == project_id,
            AuditTask.pr_number == job.number,
            AuditTask.status.in_(audits.ACTIVE_STATUSES),
        )
        tasks = list(await session.scalars(query))
    for task in tasks:
        await cancel_task(deps, forge, task, f"cancelled by {job.author}")
    return len(tasks)


async def cancel_task(deps: JobDeps, forge: Forge | None, task: AuditTask, reason: str) -> None:
    """The one way a task is cancelled (comment command, API): arq abort, row, check run."""
    await audits.finish_task(
        deps.sessions, task.id, status="cancelled", conclusion="cancelled", error=reason
    )
    if task.job_id:
        await abort_job(deps.redis, task.job_id)
    if forge is not None and task.check_run_id:
        await forge.update_check(
            task.check_run_id,
            CheckUpdate(
                status="completed",
                conclusion="cancelled",
                title=f"Audit {reason}",
                summary=f"The audit was {reason}.",
                details_url=report_url(deps.settings, task.id),
            ),
        )


async def _may_trigger(forge: Forge, author: str) -> bool:
    return isinstance(forge, AccessChecker) and await forge.can_trigger(author)


async def _reply(forge: Forge, target: ChangeTarget, body: str) -> None:
    if isinstance(forge, Commenter):
        await forge.post_comment(target, body)
    else:
        log.warning("this forge adapter cannot post a plain comment; reply dropped")
