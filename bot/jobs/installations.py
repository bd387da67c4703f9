"""`sync_installation`: keep installation and project records in step with GitHub."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from bot.jobs.contracts import InstallationRepository, SyncInstallation
from bot.jobs.deps import deps_of
from bot.logs import bind
from bot.store import audits
from bot.store.models import Installation, Project

log = logging.getLogger(__name__)

STATUS_BY_ACTION = {
    "created": "active",
    "unsuspend": "active",
    "new_permissions_accepted": "active",
    "suspend": "suspended",
    "deleted": "deleted",
}


async def sync_installation(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = SyncInstallation.model_validate(payload)
    deps = deps_of(ctx)
    with bind(delivery_id=job.delivery_id):
        async with deps.sessions() as session, session.begin():
            query = select(Installation).where(
                Installation.forge == job.forge, Installation.external_id == job.installation_id
            )
            installation = (await session.scalars(query)).first()
            if installation is None:
                installation = Installation(
                    forge=job.forge,
                    external_id=job.installation_id,
                    account_login=job.account_login,
                    account_type=job.account_type or "Organization",
                )
                session.add(installation)
            installation.account_login = job.account_login
            if job.event == "installation" and job.action in STATUS_BY_ACTION:
                installation.status = STATUS_BY_ACTION[job.action]
            await session.flush()
            internal_id = installation.id
            active = installation.status == "active"
        added = [*job.repositories, *job.added] if job.action != "deleted" else []
        for repo in added:
            await _enable(deps.sessions, internal_id, repo)
        removed = list(job.removed)
        if job.action == "deleted":
            removed += job.repositories
        async with deps.sessions() as session, session.begin():
            if removed:
                await session.execute(
                    update(Project)
                    .where(
                        Project.kind == job.forge, Project.external_id.in_([r.id for r in removed])
                    )
                    .values(enabled=False)
                )
            if not active:
                await session.execute(
                    update(Project)
                    .where(Project.installation_id == internal_id)
                    .values(enabled=False)
                )
        log.info(
            "installation %s (%s) %s: %d repositories added, %d removed",
            job.installation_id,
            job.account_login,
            job.action,
            len(added),
            len(removed),
        )
        return installation.status


async def _enable(sessions: Any, installation_id: int, repo: InstallationRepository) -> None:
    project_id = await audits.ensure_project(
        sessions,
        kind="github",
        external_id=repo.id,
        full_name=repo.full_name,
        installation_id=installation_id,
    )
    async with sessions() as session, session.begin():
        await session.execute(update(Project).where(Project.id == project_id).values(enabled=True))
