"""Putting API-started work on the arq queue. A task row is committed first, so the worker
always finds it; a queue that refuses marks the task failed and answers 503.

`scan_repository` and `scan_archive` are started only here; their payloads live with the
others in `bot/jobs/contracts.py`.
Re-running a PR review or a push scan uses the contract's payloads with a "requested" job id.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from arq.connections import ArqRedis
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from bot.errors import RetryLater
from bot.jobs import endings
from bot.jobs.contracts import (
    REVIEW_PULL_REQUEST,
    SCAN_PUSH,
    Repository,
    ReviewPullRequest,
    ScanPush,
    requested_job_id,
)
from bot.jobs.lifecycle import end_task
from bot.store.audits import Sessions
from bot.store.models import AuditTask, Installation, Project

log = logging.getLogger(__name__)


async def enqueue_scan(
    session: AsyncSession,
    sessions: Sessions,
    redis: ArqRedis,
    task: AuditTask,
    payload: BaseModel,
    function: str,
) -> None:
    # Deterministic job id: a double submit of the same task cannot run twice.
    task.job_id = f"{function}:{task.id}"
    await session.commit()
    try:
        await redis.enqueue_job(function, payload.model_dump(mode="json"), _job_id=task.job_id)
    except Exception as exc:  # noqa: BLE001 - any Redis failure means "not queued"
        log.error("could not queue task %s: %s", task.id, exc)
        # Ended as every task ends (no check run was opened: only the row).
        refused = endings.failed("Scan", "the queue did not accept the job")
        await end_task(sessions, task.id, refused)
        raise RetryLater("the queue is unavailable; try again shortly", retry_after=10) from None


async def enqueue_forge_rerun(
    session: AsyncSession, redis: ArqRedis, task: AuditTask, user_id: int
) -> str:
    """Queue a PR review or push scan again; the worker records it as a new task."""
    project = await session.get(Project, task.project_id) if task.project_id else None
    if project is None or project.kind not in ("github", "gitlab") or not project.external_id:
        # Permanent: asking again later cannot help, so 409 rather than 503 + Retry-After.
        raise HTTPException(409, "the task's repository is no longer known")
    installation = (
        await session.get(Installation, project.installation_id)
        if project.installation_id else None
    )
    repository = Repository(
        forge=project.kind,  # type: ignore[arg-type]  # checked above
        id=project.external_id, full_name=project.full_name,
        default_branch=project.default_branch,
        installation_id=installation.external_id if installation else None,
    )
    delivery = f"api-{secrets.token_hex(8)}"
    payload: ReviewPullRequest | ScanPush
    if task.kind == "review":
        if not task.head_sha:
            raise HTTPException(409, "the task has no head commit to review again")
        payload = ReviewPullRequest(
            repository=repository, number=task.pr_number, head_sha=task.head_sha,
            head_ref=task.head_ref, base_ref=task.base_ref, trigger="api.retry",
            requested_by=f"user:{user_id}", delivery_id=delivery,
        )
        name: Any = REVIEW_PULL_REQUEST
    else:
        if not (task.base_sha and task.head_sha):
            raise HTTPException(409, "the task has no commit range to scan again")
        payload = ScanPush(repository=repository, ref=task.head_ref or project.default_branch,
                           before=task.base_sha, after=task.head_sha, delivery_id=delivery)
        name = SCAN_PUSH
    job_id = requested_job_id(name, repository.forge, repository.id, task.pr_number, delivery)
    try:
        await redis.enqueue_job(name, payload.model_dump(mode="json"), _job_id=job_id)
    except Exception as exc:  # noqa: BLE001
        log.error("could not queue a re-run of task %s: %s", task.id, exc)
        raise RetryLater("the queue is unavailable; try again shortly", retry_after=10) from None
    return job_id
