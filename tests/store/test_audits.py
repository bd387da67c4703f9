"""First sight of an installation or repository from several workers at once: one row."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.store import audits
from bot.store.db import create_engine, session_factory
from bot.store.migrate import upgrade
from bot.store.models import Installation, Project

RACER = """
import asyncio, sys
from bot.store import audits
from bot.store.db import create_engine, session_factory

async def main(url: str) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    installation = await audits.ensure_installation(
        sessions, forge="github", external_id=77, account_login="octo")
    await audits.ensure_project(sessions, kind="github", external_id=5, full_name="octo/a",
                                installation_id=installation)
    await engine.dispose()

asyncio.run(main(sys.argv[1]))
"""


def race(url: str, tmp_path: Path, processes: int = 6) -> None:
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    running = [
        subprocess.Popen([sys.executable, str(script), url], stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    for process in running:
        _, stderr = process.communicate(timeout=90)
        assert process.returncode == 0, stderr


async def counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        installations = await session.scalar(select(func.count()).select_from(Installation))
        projects = await session.scalar(select(func.count()).select_from(Project))
    await engine.dispose()
    return int(installations or 0), int(projects or 0)


def test_first_sight_race_on_sqlite(sqlite_url: str, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    race(sqlite_url, tmp_path)
    assert asyncio.run(counts(sqlite_url)) == (1, 1)


@pytest.mark.postgres
def test_first_sight_race_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    upgrade(postgres_url)
    race(postgres_url, tmp_path)
    assert asyncio.run(counts(postgres_url)) == (1, 1)


async def test_ensure_project_updates_only_what_it_is_given(sqlite_url: str) -> None:
    await asyncio.to_thread(upgrade, sqlite_url)
    engine = create_engine(sqlite_url)
    sessions = session_factory(engine)
    first = await audits.ensure_project(
        sessions,
        kind="github",
        external_id=9,
        full_name="o/r",
        default_branch="trunk",
        private=False,
    )
    again = await audits.ensure_project(sessions, kind="github", external_id=9, full_name="o/r2")
    async with sessions() as session:
        project = await session.get(Project, first)
    await engine.dispose()
    assert again == first
    assert project is not None
    assert (project.full_name, project.default_branch, project.private) == ("o/r2", "trunk", False)


@pytest.mark.postgres
async def test_concurrent_first_sights_in_one_worker(postgres_url: str) -> None:
    await asyncio.to_thread(upgrade, postgres_url)
    engine = create_engine(postgres_url)
    sessions = session_factory(engine)
    ids = await asyncio.gather(
        *(
            audits.ensure_installation(sessions, forge="github", external_id=7, account_login="o")
            for _ in range(10)
        )
    )
    await engine.dispose()
    assert len(set(ids)) == 1
