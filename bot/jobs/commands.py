"""`run_command`: what a person asked for in a PR comment.

`/audit` reviews the PR's head now; `/audit full` scans the whole repository at the PR's
head; `/audit cancel` stops this PR's queued or running audits; `/audit help` (and any
unknown sub-command) answers with the list; `/audit ask <question>` is answered by
``bot.jobs.conversation.ask``. The author must have write access (GitHub: the collaborator
permission, read through the API; GitLab: Developer or more); for ``ask`` the pull
request's author may ask too. Anyone else gets nothing, silently.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.forges.base import ChangeTarget
from bot.forges.pull_requests import PullRequestForge
from bot.jobs import endings
from bot.jobs.contracts import ReviewPullRequest, RunCommand
from bot.jobs.conversation.ask import answer_question
from bot.jobs.conversation.once import post_answer
from bot.jobs.deps import JobDeps, deps_of, task_for_delivery
from bot.jobs.lifecycle import SCAN_WORDS, Audit, cancel_tasks
from bot.jobs.review import ReviewRun
from bot.jobs.scans import run_tree_scan
from bot.logs import bind
from bot.store import audits

log = logging.getLogger(__name__)

HELP = """**auditbot commands** (for people with write access to the repository)

| command | what it does |
| --- | --- |
| `/audit` | review this pull request's latest commit now |
| `/audit full` | scan the whole repository at this pull request's head |
| `/audit cancel` | stop this pull request's queued or running audits |
| `/audit ask <question>` | ask about this change (people with write access and the author) |
| `/audit help` | show this list |

`@{slug} review` works like `/audit`."""


async def run_command(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = RunCommand.model_validate(payload)
    deps = deps_of(ctx)
    job_id = str(ctx.get("job_id") or f"run_command:{job.delivery_id}")
    with bind(delivery_id=job.delivery_id):
        forge = await deps.forges(job.repository)
        try:
            if job.command == "ask":
                return await answer_question(deps, forge, job)
            if not await forge.can_trigger(job.author):
                log.info("command from %s ignored: no write access", job.author)
                return "ignored"
            # Answers are posted once however many runs the job has (conversation.once).
            if job.command == "help":
                text = HELP.replace("{slug}", deps.settings.app_slug or "auditbot")
                await post_answer(deps.redis, forge.conversation, job, text)
                return "help"
            if job.command == "cancel":
                cancelled = await cancel_pull_request(deps, forge, job)
                text = f"auditbot: cancelled {cancelled} audit(s) of this pull request."
                await post_answer(deps.redis, forge.conversation, job, text)
                return "cancelled"
            change = await forge.fetch_change(ChangeTarget(number=job.number))
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
    deps: JobDeps, forge: PullRequestForge, job: RunCommand, head_sha: str, job_id: str
) -> str:
    project_id, task_id, _ = await task_for_delivery(
        deps, job, job_id, kind="repository", trigger="command", pr_number=job.number,
        head_ref=head_sha, head_sha=head_sha,
    )
    audit = Audit(deps, task_id, project_id, forge=forge, head_sha=head_sha, words=SCAN_WORDS)
    config_ref = job.repository.default_branch or head_sha
    return await run_tree_scan(audit, forge, head_sha, config_ref=config_ref)


async def cancel_pull_request(deps: JobDeps, forge: PullRequestForge, job: RunCommand) -> int:
    """Stop every queued or running audit of this PR; their checks say who cancelled."""
    project_id = await audits.ensure_project(
        deps.sessions,
        kind=job.repository.forge,
        external_id=job.repository.id,
        full_name=job.repository.full_name,
    )
    tasks = await audits.active_tasks_of_pr(deps.sessions, project_id, job.number)
    await cancel_tasks(deps, forge, tasks, endings.cancelled("Audit", f"cancelled by {job.author}"))
    return len(tasks)
