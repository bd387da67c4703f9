"""What every job needs, built once per worker in ``on_startup`` and kept in arq's ctx."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.forges.pull_requests import PullRequestForge
from bot.jobs.contracts import Repository, RepositoryJob
from bot.store import audits

if TYPE_CHECKING:  # the service pulls in the providers' machinery; jobs only hold one
    from bot.llm.service import LLMService

ForgeFactory = Callable[[Repository], Awaitable[PullRequestForge]]


@dataclass(frozen=True)
class JobTiming:
    """How long the analysing part of an audit may take: JOB_TIMEOUT_S less ``margin_s``,
    so that the job, not arq's own timeout, concludes the check run and says why; never
    less than ``min_s``. Tests set shorter ones rather than wait."""

    margin_s: float = 15.0
    min_s: float = 5.0

    def limit_s(self, job_timeout_s: float) -> float:
        return max(self.min_s, job_timeout_s - self.margin_s)


@dataclass
class JobDeps:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    forges: ForgeFactory
    llm: LLMService | None  # None: offline analyzers only
    timing: JobTiming = field(default_factory=JobTiming)
    # ANALYZER_CONCURRENCY: offline analyzer runs at once in this worker, whatever its jobs.
    analyzer_slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.analyzer_slots = asyncio.Semaphore(self.settings.analyzer_concurrency)


def deps_of(ctx: dict[str, Any]) -> JobDeps:
    deps = ctx["deps"]
    assert isinstance(deps, JobDeps)
    return deps


async def task_for_job(
    deps: JobDeps, repo: Repository, job_id: str, **fields: Any
) -> tuple[int, str, str]:
    """(project id, task id, task status) for an arq job: a retried job finds the task its
    first attempt made, a new job makes one with ``fields``."""
    project_id = await project_for(deps, repo)
    task = await audits.find_task_by_job(deps.sessions, job_id)
    if task is not None:
        return project_id, task.id, task.status
    task_id = await audits.create_task(
        deps.sessions, project_id=project_id, job_id=job_id, **fields
    )
    return project_id, task_id, "queued"


async def task_for_delivery(
    deps: JobDeps, job: RepositoryJob, job_id: str, **fields: Any
) -> tuple[int, str, str]:
    """:func:`task_for_job` for a job a webhook delivery started (a review, a push scan,
    an `/audit` command): the task belongs to the job's repository and records its
    delivery."""
    return await task_for_job(deps, job.repository, job_id, delivery_id=job.delivery_id,
                              **fields)


async def project_for(deps: JobDeps, repo: Repository) -> int:
    """The repository's project id (and its installation's), recorded on first sight."""
    installation_id = None
    if repo.installation_id is not None:
        installation_id = await audits.ensure_installation(
            deps.sessions,
            forge=repo.forge,
            external_id=repo.installation_id,
            account_login=repo.full_name.split("/", 1)[0],
        )
    return await audits.ensure_project(
        deps.sessions,
        kind=repo.forge,
        external_id=repo.id,
        full_name=repo.full_name,
        default_branch=repo.default_branch,
        installation_id=installation_id,
    )


async def repository_of(deps: JobDeps, project_id: int) -> Repository | None:
    """The forge repository of a stored project; None for local and archive projects."""
    ref = await audits.project_ref(deps.sessions, project_id)
    if ref is None or ref.kind not in ("github", "gitlab") or ref.external_id is None:
        return None
    return Repository(
        forge=ref.kind,  # type: ignore[arg-type]  # checked above
        id=ref.external_id,
        full_name=ref.full_name,
        default_branch=ref.default_branch,
        installation_id=ref.installation_external_id,
    )
