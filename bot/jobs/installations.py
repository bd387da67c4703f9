"""`sync_installation`: keep installation and project records in step with GitHub."""

from __future__ import annotations

import logging
from typing import Any

from bot.jobs.contracts import InstallationRepository, SyncInstallation
from bot.jobs.deps import deps_of
from bot.logs import bind
from bot.store import audits, installations
from bot.store.audits import Sessions

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
        record = await installations.record_installation(
            deps.sessions,
            forge=job.forge,
            external_id=job.installation_id,
            account_login=job.account_login,
            account_type=job.account_type or "Organization",
            status=STATUS_BY_ACTION.get(job.action) if job.event == "installation" else None,
        )
        added = [*job.repositories, *job.added] if job.action != "deleted" else []
        for repo in added:
            await _enable(deps.sessions, record.id, repo)
        removed = list(job.removed)
        if job.action == "deleted":
            removed += job.repositories
        await installations.disable_projects(
            deps.sessions,
            forge=job.forge,
            external_ids=[r.id for r in removed],
            installation_id=None if record.status == "active" else record.id,
        )
        log.info(
            "installation %s (%s) %s: %d repositories added, %d removed",
            job.installation_id,
            job.account_login,
            job.action,
            len(added),
            len(removed),
        )
        return record.status


async def _enable(sessions: Sessions, installation_id: int, repo: InstallationRepository) -> None:
    project_id = await audits.ensure_project(
        sessions,
        kind="github",
        external_id=repo.id,
        full_name=repo.full_name,
        installation_id=installation_id,
    )
    await installations.enable_project(sessions, project_id)
