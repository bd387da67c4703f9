"""The records of forge installations and their projects: found or made on first sight,
their status kept in step with the forge, projects turned on and off."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import update

from bot.store.audits import Sessions, installation_row
from bot.store.models import Installation, Project


@dataclass(frozen=True)
class InstallationRecord:
    id: int  # internal
    status: str


async def record_installation(
    sessions: Sessions,
    *,
    forge: str,
    external_id: int,
    account_login: str,
    account_type: str,
    status: str | None,
) -> InstallationRecord:
    """The installation's row, made on first sight, with its account login (and ``status``
    when the event sets one)."""
    async with sessions() as session, session.begin():
        installation = await installation_row(session, forge, external_id)
        if installation is None:
            installation = Installation(
                forge=forge,
                external_id=external_id,
                account_login=account_login,
                account_type=account_type,
            )
            session.add(installation)
        installation.account_login = account_login
        if status is not None:
            installation.status = status
        await session.flush()
        return InstallationRecord(installation.id, installation.status)


async def enable_project(sessions: Sessions, project_id: int) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(Project).where(Project.id == project_id).values(enabled=True))


async def disable_projects(
    sessions: Sessions,
    *,
    forge: str,
    external_ids: Collection[int],
    installation_id: int | None = None,
) -> None:
    """Turn off the projects of ``external_ids``, and with ``installation_id`` every project
    of that installation, in one transaction."""
    async with sessions() as session, session.begin():
        if external_ids:
            await session.execute(
                update(Project)
                .where(Project.kind == forge, Project.external_id.in_(list(external_ids)))
                .values(enabled=False)
            )
        if installation_id is not None:
            await session.execute(
                update(Project)
                .where(Project.installation_id == installation_id)
                .values(enabled=False)
            )
