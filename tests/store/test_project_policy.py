"""A project's own settings narrow what the server allows: the models its `.auditbot.yml`
may choose (never one the server does not allow) and whether pull requests are reviewed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.audits import ProjectPolicy, project_policy
from bot.store.db import create_engine, session_factory
from bot.store.migrate import upgrade
from bot.store.models import Project

SERVER = ("openai/gpt-4o", "deepseek/deepseek-chat", "anthropic/claude-sonnet-4")


@pytest.fixture
def migrated(sqlite_url: str) -> str:
    upgrade(sqlite_url)
    return sqlite_url


@pytest.fixture
async def sessions(migrated: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(migrated)
    yield session_factory(engine)
    await engine.dispose()


async def _project(sessions: async_sessionmaker[AsyncSession], **fields: object) -> int:
    async with sessions() as session, session.begin():
        row = Project(kind="github", full_name="acme/app", **fields)
        session.add(row)
        await session.flush()
        return row.id


@pytest.mark.parametrize(("settings", "enabled", "expected"), [
    ({}, True, ProjectPolicy(True, SERVER)),
    ({"allowed_models": ["deepseek/deepseek-chat", "someone/else"]}, True,
     ProjectPolicy(True, ("deepseek/deepseek-chat",))),
    ({"allowed_models": []}, False, ProjectPolicy(False, ())),
    ({"allowed_models": "not a list"}, True, ProjectPolicy(True, SERVER)),
], ids=["server-default", "narrowed-never-widened", "none-and-off", "malformed"])
async def test_policy(sessions: async_sessionmaker[AsyncSession], settings: dict[str, object],
                      enabled: bool, expected: ProjectPolicy) -> None:
    project = await _project(sessions, settings=settings, enabled=enabled)
    assert await project_policy(sessions, project, SERVER) == expected


async def test_no_project_gets_the_server_policy(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await project_policy(sessions, None, SERVER) == ProjectPolicy(True, SERVER)
    assert await project_policy(sessions, 999, SERVER) == ProjectPolicy(True, SERVER)
