"""Who is calling and what they may see. Admins see everything; members see the projects
they were granted. Another project's object is "not found", never "forbidden", so a member
cannot even learn that it exists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from bot.config import Settings
from bot.errors import NotFound
from bot.signing import InvalidToken
from bot.store.models import AuditTask, FindingRecord, Project, ProjectMember, User
from bot.web.auth import verify_access_token

# Project roles: a member reads and triages; a viewer only reads. Admins need no grant.
MEMBER, VIEWER = "member", "viewer"


def bearer_token(connection: HTTPConnection) -> str | None:
    """The Bearer token of the Authorization header; the API never reads a cookie, so no
    other site can make a browser call it with the visitor's session."""
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def user_from_token(session: AsyncSession, settings: Settings, token: str) -> User:
    """The active user an access token names; raises `InvalidToken` otherwise."""
    claims = verify_access_token(settings, token)
    user = await session.get(User, claims.user_id)
    if user is None or not user.is_active:
        raise InvalidToken("the account does not exist or is disabled")
    return user


async def authenticate(
    connection: HTTPConnection, session: AsyncSession, settings: Settings
) -> User:
    token = bearer_token(connection)
    if token is None:
        raise HTTPException(401, "log in and send the access token as a Bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        return await user_from_token(session, settings, token)
    except InvalidToken:
        raise HTTPException(401, "the access token is invalid or expired",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None


async def visible_project_ids(session: AsyncSession, user: User) -> set[int] | None:
    """None for an admin (everything), else the granted project ids."""
    if user.is_admin:
        return None
    rows = await session.scalars(
        select(ProjectMember.project_id).where(ProjectMember.user_id == user.id)
    )
    return set(rows)


def visible(column: Any, ids: set[int] | None) -> ColumnElement[bool]:
    """A WHERE clause limiting ``column`` (a project id) to what the caller may see."""
    if ids is None:
        return true()
    return column.in_(sorted(ids))  # type: ignore[no-any-return]


async def get_project(session: AsyncSession, user: User, project_id: int) -> Project:
    ids = await visible_project_ids(session, user)
    project = await session.get(Project, project_id)
    if project is None or (ids is not None and project.id not in ids):
        raise NotFound(f"no project {project_id}")
    return project


async def get_task(session: AsyncSession, user: User, task_id: str) -> AuditTask:
    task = await session.get(AuditTask, task_id)
    if task is None or not await can_see(session, user, task.project_id):
        raise NotFound(f"no task {task_id}")
    return task


async def get_finding(session: AsyncSession, user: User, finding_id: int) -> FindingRecord:
    finding = await session.get(FindingRecord, finding_id)
    if finding is None or not await can_see(session, user, finding.project_id):
        raise NotFound(f"no finding {finding_id}")
    return finding


async def can_triage(session: AsyncSession, user: User, project_id: int | None) -> bool:
    """Admins and members may triage; viewers read only."""
    if user.is_admin:
        return True
    if project_id is None:
        return False
    role = await session.scalar(select(ProjectMember.role).where(
        ProjectMember.user_id == user.id, ProjectMember.project_id == project_id))
    return role is not None and role != VIEWER


async def can_see(session: AsyncSession, user: User, project_id: int | None) -> bool:
    ids = await visible_project_ids(session, user)
    # Tasks without a project (CLI runs stored locally) are for admins only.
    return ids is None or (project_id is not None and project_id in ids)
