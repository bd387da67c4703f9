"""Queries for audit tasks, their findings and projects: what the jobs and the CLI write.

Functions take a session factory and return ids or plain values; ORM objects stay here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.findings import Finding, FindingStatus
from bot.store.models import AuditTask, FindingRecord, Installation, Project

Sessions = async_sessionmaker[AsyncSession]

ACTIVE_STATUSES = ("queued", "running")
FINAL_STATUSES = ("succeeded", "failed", "cancelled")


def now() -> datetime:
    return datetime.now(UTC)


async def _first_sight(attempt: Callable[[], Awaitable[int]]) -> int:
    """Two workers may see a new installation or repository at the same moment: the loser
    of the insert race (a unique-constraint error) reads the winner's row."""
    try:
        return await attempt()
    except IntegrityError:
        return await attempt()


async def ensure_installation(
    sessions: Sessions, *, forge: str, external_id: int, account_login: str
) -> int:
    """The installation's internal id, recorded on first sight (a job may arrive before
    the `installation` event's sync, or from before auditbot kept records)."""
    return await _first_sight(
        lambda: _ensure_installation(sessions, forge, external_id, account_login)
    )


async def _ensure_installation(
    sessions: Sessions, forge: str, external_id: int, account_login: str
) -> int:
    async with sessions() as session, session.begin():
        installation = await installation_row(session, forge, external_id)
        if installation is None:
            installation = Installation(
                forge=forge, external_id=external_id, account_login=account_login
            )
            session.add(installation)
            await session.flush()
        return installation.id


async def installation_row(
    session: AsyncSession, forge: str, external_id: int
) -> Installation | None:
    query = select(Installation).where(
        Installation.forge == forge, Installation.external_id == external_id
    )
    return (await session.scalars(query)).first()


async def ensure_project(
    sessions: Sessions,
    *,
    kind: str,
    full_name: str,
    external_id: int | None = None,
    installation_id: int | None = None,
    default_branch: str | None = None,
    private: bool | None = None,
) -> int:
    """The project's id, created on first sight (by external id, else by kind and name)."""
    return await _first_sight(
        lambda: _ensure_project(
            sessions, kind, full_name, external_id, installation_id, default_branch, private
        )
    )


async def _ensure_project(
    sessions: Sessions,
    kind: str,
    full_name: str,
    external_id: int | None,
    installation_id: int | None,
    default_branch: str | None,
    private: bool | None,
) -> int:
    async with sessions() as session, session.begin():
        query = select(Project).where(Project.kind == kind)
        if external_id is not None:
            query = query.where(Project.external_id == external_id)
        else:
            query = query.where(Project.full_name == full_name, Project.external_id.is_(None))
        project = (await session.scalars(query.limit(1))).first()
        if project is None:
            project = Project(
                kind=kind,
                full_name=full_name,
                external_id=external_id,
                installation_id=installation_id,
                default_branch=default_branch or "main",
                private=True if private is None else private,
            )
            session.add(project)
            await session.flush()
        else:
            project.full_name = full_name
            if default_branch is not None:
                project.default_branch = default_branch
            if private is not None:
                project.private = private
            if installation_id is not None:
                project.installation_id = installation_id
        return project.id


@dataclass(frozen=True)
class ProjectRef:
    """What a job needs to reach a project's repository again, and its budget overrides."""

    id: int
    kind: str  # github | gitlab | local | archive
    external_id: int | None
    full_name: str
    default_branch: str
    private: bool
    installation_id: int | None  # internal
    installation_external_id: int | None  # the GitHub App installation's id
    # Budget overrides (None: the settings' defaults).
    budget_per_task_usd: float | None = None
    budget_monthly_usd: float | None = None
    installation_budget_monthly_usd: float | None = None


async def project_ref(sessions: Sessions, project_id: int) -> ProjectRef | None:
    async with sessions() as session:
        project = await session.get(Project, project_id)
        if project is None:
            return None
        installation = (
            await session.get(Installation, project.installation_id)
            if project.installation_id is not None
            else None
        )
        return ProjectRef(
            id=project.id,
            kind=project.kind,
            external_id=project.external_id,
            full_name=project.full_name,
            default_branch=project.default_branch,
            private=project.private,
            installation_id=project.installation_id,
            installation_external_id=installation.external_id if installation else None,
            budget_per_task_usd=project.budget_per_task_usd,
            budget_monthly_usd=project.budget_monthly_usd,
            installation_budget_monthly_usd=(
                installation.budget_monthly_usd if installation else None
            ),
        )


async def create_task(sessions: Sessions, **fields: Any) -> str:
    async with sessions() as session, session.begin():
        task = AuditTask(**fields)
        session.add(task)
        await session.flush()
        return task.id


async def get_task(sessions: Sessions, task_id: str) -> AuditTask | None:
    async with sessions() as session:
        return await session.get(AuditTask, task_id)


async def find_task_by_job(sessions: Sessions, job_id: str) -> AuditTask | None:
    async with sessions() as session:
        query = select(AuditTask).where(AuditTask.job_id == job_id).order_by(AuditTask.created_at)
        return (await session.scalars(query.limit(1))).first()


async def update_task(sessions: Sessions, task_id: str, **fields: Any) -> bool:
    """Set fields of a task; returns whether the row was written. A ``status`` among them
    is written only while the task has not ended: a final status is final (see
    :func:`start_task`); other fields (the check run's id, when it was concluded) are
    written whatever the status."""
    query = update(AuditTask).where(AuditTask.id == task_id)
    if "status" in fields:
        query = query.where(AuditTask.status.not_in(FINAL_STATUSES))
    async with sessions() as session, session.begin():
        result = await session.execute(query.values(updated_at=now(), **fields))
        return bool(getattr(result, "rowcount", 0))


async def merge_progress(sessions: Sessions, task_id: str, key: str, value: Any) -> None:
    """Set ``progress[key]`` of a task, keeping the rest of its progress record (never its
    status: an ended task's code scanning progress is still recorded)."""
    async with sessions() as session, session.begin():
        task = await session.get(AuditTask, task_id)
        if task is not None:
            task.progress = {**(task.progress or {}), key: value}
            task.updated_at = now()


async def start_task(sessions: Sessions, task_id: str) -> int | None:
    """Mark the task running; returns the attempt number (1 on the first run), or None
    when the task has ended (cancelled by the API, `/audit cancel` or a newer push, or
    ended by another run of its job) or is gone: the job must not run it.

    One conditional UPDATE: a final status is never set back to running, whenever the
    cancel was committed (a read and then a write would let a cancel between them be
    overwritten, and the task would run on and end "stopped" by the reconciler)."""
    stamp = now()
    query = (
        update(AuditTask)
        .where(AuditTask.id == task_id, AuditTask.status.not_in(FINAL_STATUSES))
        .values(
            status="running",
            attempts=func.coalesce(AuditTask.attempts, 0) + 1,
            started_at=func.coalesce(AuditTask.started_at, stamp),
            updated_at=stamp,
        )
        .returning(AuditTask.attempts)
    )
    async with sessions() as session, session.begin():
        attempt = (await session.execute(query)).scalar_one_or_none()
    return None if attempt is None else int(attempt)


async def finish_task(
    sessions: Sessions,
    task_id: str,
    *,
    status: str,
    conclusion: str | None = None,
    error: str | None = None,
    **fields: Any,
) -> bool:
    """Record the task's end; returns False, writing nothing, when it had already ended:
    the first end recorded stands (a cancel is not overwritten by the job's own end, nor
    a finished audit by a late cancel)."""
    return await update_task(
        sessions,
        task_id,
        status=status,
        conclusion=conclusion,
        error=error,
        finished_at=now(),
        **fields,
    )


async def last_audited_head(
    sessions: Sessions, project_id: int, pr_number: int | None, *, other_than_task: str
) -> str | None:
    """The head SHA of the pull request's latest succeeded review (incremental reviews)."""
    async with sessions() as session:
        query = (
            select(AuditTask.head_sha)
            .where(
                AuditTask.project_id == project_id,
                AuditTask.pr_number == pr_number,
                AuditTask.kind == "review",
                AuditTask.status == "succeeded",
                AuditTask.head_sha.is_not(None),
                AuditTask.id != other_than_task,
            )
            .order_by(AuditTask.finished_at.desc())
            .limit(1)
        )
        return (await session.scalars(query)).first()


async def active_tasks_of_pr(
    sessions: Sessions,
    project_id: int,
    pr_number: int | None,
    *,
    kind: str | None = None,
    head_other_than: str | None = None,
    other_than_task: str | None = None,
) -> list[AuditTask]:
    """Queued or running tasks of one pull request: all of them (a cancel), or the reviews
    of other heads (a newer push supersedes them)."""
    query = select(AuditTask).where(
        AuditTask.project_id == project_id,
        AuditTask.pr_number == pr_number,
        AuditTask.status.in_(ACTIVE_STATUSES),
    )
    if kind is not None:
        query = query.where(AuditTask.kind == kind)
    if head_other_than is not None:
        query = query.where(AuditTask.head_sha != head_other_than)
    if other_than_task is not None:
        query = query.where(AuditTask.id != other_than_task)
    async with sessions() as session:
        return list(await session.scalars(query))


async def stale_tasks(sessions: Sessions, older_than: datetime) -> list[AuditTask]:
    """Tasks still queued or running that nobody touched since ``older_than``."""
    async with sessions() as session:
        query = select(AuditTask).where(
            AuditTask.status.in_(ACTIVE_STATUSES), AuditTask.updated_at < older_than
        )
        return list(await session.scalars(query))


async def tasks_with_open_checks(sessions: Sessions, ended_before: datetime) -> list[AuditTask]:
    """Tasks that ended before ``ended_before`` while the forge never heard how: their
    check run (commit status) still says "in progress"."""
    async with sessions() as session:
        query = select(AuditTask).where(
            AuditTask.check_concluded_at.is_(None),
            AuditTask.check_run_id.is_not(None),
            AuditTask.status.in_(FINAL_STATUSES),
            AuditTask.finished_at < ended_before,
        )
        return list(await session.scalars(query.limit(200)))


async def recently_active_projects(
    sessions: Sessions, kind: str, since: datetime
) -> list[int]:
    """Enabled projects of ``kind`` with an audit task created since ``since``."""
    async with sessions() as session:
        query = (
            select(Project.id)
            .join(AuditTask, AuditTask.project_id == Project.id)
            .where(Project.kind == kind, Project.enabled.is_(True),
                   AuditTask.created_at >= since)
            .distinct()
        )
        return list(await session.scalars(query))


async def has_review_of_head(
    sessions: Sessions, project_id: int, pr_number: int, head_sha: str
) -> bool:
    """Whether any review task (in any state) exists for this pull request's head."""
    async with sessions() as session:
        query = select(AuditTask.id).where(
            AuditTask.project_id == project_id,
            AuditTask.pr_number == pr_number,
            AuditTask.head_sha == head_sha,
            AuditTask.kind == "review",
        )
        return (await session.scalars(query.limit(1))).first() is not None


@dataclass(frozen=True)
class ProjectPolicy:
    """What a project's own settings (its page, or PATCH /api/v1/projects/{id}) allow."""

    reviews_enabled: bool
    allowed_models: tuple[str, ...]  # those of the server's LLM_ALLOWED_MODELS it keeps


async def project_policy(
    sessions: Sessions, project_id: int | None, server_models: Sequence[str]
) -> ProjectPolicy:
    """The project's switch for pull-request reviews and the models its `.auditbot.yml` may
    choose: ``settings["allowed_models"]``, narrowed to the server's list (a project can
    only take models away); unset, the server's list."""
    project = None
    if project_id is not None:
        async with sessions() as session:
            project = await session.get(Project, project_id)
    if project is None:
        return ProjectPolicy(True, tuple(server_models))
    chosen = (project.settings or {}).get("allowed_models")
    models = tuple(server_models)
    if isinstance(chosen, list):
        models = tuple(m for m in server_models if m in chosen)
    return ProjectPolicy(bool(project.enabled), models)


async def silenced_fingerprints(sessions: Sessions, project_id: int | None) -> frozenset[str]:
    """Fingerprints a person dismissed (false positive, won't fix) in this project."""
    if project_id is None:
        return frozenset()
    async with sessions() as session:
        query = select(FindingRecord.fingerprint).where(
            FindingRecord.project_id == project_id,
            FindingRecord.status.in_([s.value for s in FindingStatus if s.silenced]),
        )
        return frozenset(await session.scalars(query.distinct()))


async def open_findings_of_pr(
    sessions: Sessions, project_id: int, pr_number: int
) -> list[FindingRecord]:
    """The latest open (or confirmed) finding per fingerprint posted on this PR, for
    incremental runs."""
    async with sessions() as session:
        query = (
            select(FindingRecord)
            .where(
                FindingRecord.project_id == project_id,
                FindingRecord.pr_number == pr_number,
                FindingRecord.status.in_([s.value for s in FindingStatus if s.active]),
            )
            .order_by(FindingRecord.id)
        )
        latest: dict[str, FindingRecord] = {}
        for row in await session.scalars(query):
            latest[row.fingerprint] = row
        return list(latest.values())


async def mark_fixed(sessions: Sessions, ids: Sequence[int], sha: str) -> None:
    if not ids:
        return
    async with sessions() as session, session.begin():
        await session.execute(
            update(FindingRecord)
            .where(FindingRecord.id.in_(ids))
            .values(status=FindingStatus.FIXED, status_reason=f"gone at {sha}", updated_at=now())
        )


async def save_findings(
    sessions: Sessions,
    *,
    task_id: str,
    project_id: int | None,
    pr_number: int | None,
    head_sha: str | None,
    placed: Iterable[tuple[Finding, str, str | None]],
    status: str = FindingStatus.OPEN,
) -> int:
    """Store (finding, placement, comment id) rows of one task; first-seen SHAs carry over.

    The rows replace any an earlier try of the same task stored: a job retried after this
    point (the forge refused the check update for a while) must not store them twice.
    """
    items = list(placed)
    async with sessions() as session, session.begin():
        await session.execute(delete(FindingRecord).where(FindingRecord.task_id == task_id))
        first_seen: dict[str, str | None] = {}
        # A confirmed finding found again stays confirmed (bot.store.triage's decision holds
        # for the fingerprint); dismissed ones never get here, the pipeline left them out.
        confirmed: dict[str, tuple[str | None, str | None]] = {}
        if project_id is not None and items:
            fingerprints = {f.fingerprint for f, _, _ in items if f.fingerprint}
            query = (
                select(FindingRecord.fingerprint, FindingRecord.first_seen_sha,
                       FindingRecord.status, FindingRecord.status_reason,
                       FindingRecord.status_by)
                .where(
                    FindingRecord.project_id == project_id,
                    FindingRecord.fingerprint.in_(fingerprints),
                )
                .order_by(FindingRecord.id.desc())
            )
            latest_first: set[str] = set()
            for fingerprint, sha, state, reason, by in await session.execute(query):
                first_seen[fingerprint] = sha
                if fingerprint not in latest_first:
                    latest_first.add(fingerprint)
                    if state == FindingStatus.CONFIRMED:
                        confirmed[fingerprint] = (reason, by)
        for finding, placement, comment_id in items:
            fingerprint = finding.fingerprint or ""
            session.add(
                FindingRecord(
                    project_id=project_id,
                    task_id=task_id,
                    pr_number=pr_number,
                    path=finding.path,
                    start_line=finding.start_line,
                    end_line=finding.end_line,
                    side=finding.side,
                    severity=finding.severity.value,
                    category=finding.category.value,
                    cwe=finding.cwe,
                    title=finding.title,
                    message=finding.message,
                    suggestion=finding.suggestion,
                    quote=finding.quote,
                    confidence=finding.confidence,
                    source=finding.source,
                    rule_id=finding.rule_id,
                    fingerprint=fingerprint,
                    status=FindingStatus.CONFIRMED if fingerprint in confirmed else status,
                    status_reason=confirmed.get(fingerprint, (None, None))[0],
                    status_by=confirmed.get(fingerprint, (None, None))[1],
                    placement=placement,
                    comment_id=comment_id,
                    first_seen_sha=first_seen.get(fingerprint, head_sha),
                    last_seen_sha=head_sha,
                )
            )
    return len(items)
