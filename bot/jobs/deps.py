"""What every job needs, built once per worker in ``on_startup`` and kept in arq's ctx."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.forges.base import Forge
from bot.jobs.contracts import Repository
from bot.store import audits

ForgeFactory = Callable[[Repository], Awaitable[Forge]]


@dataclass
class JobDeps:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    forges: ForgeFactory
    llm: Any | None  # bot.llm.service.LLMService, or None for offline analyzers only


def deps_of(ctx: dict[str, Any]) -> JobDeps:
    deps = ctx["deps"]
    assert isinstance(deps, JobDeps)
    return deps


async def task_for_job(
    deps: JobDeps, repo: Repository, job_id: str, **fields: Any
) -> tuple[int, str, str]:
    """(project id, task id, task status) for an arq job: a retried job finds the task its
    first attempt made, a new job makes one with ``fields``."""
    installation_id = None
    if repo.installation_id is not None:
        installation_id = await audits.ensure_installation(
            deps.sessions,
            forge=repo.forge,
            external_id=repo.installation_id,
            account_login=repo.full_name.split("/", 1)[0],
        )
    project_id = await audits.ensure_project(
        deps.sessions,
        kind=repo.forge,
        external_id=repo.id,
        full_name=repo.full_name,
        default_branch=repo.default_branch,
        installation_id=installation_id,
    )
    task = await audits.find_task_by_job(deps.sessions, job_id)
    if task is not None:
        return project_id, task.id, task.status
    task_id = await audits.create_task(
        deps.sessions, project_id=project_id, job_id=job_id, **fields
    )
    return project_id, task_id, "queued"
