"""A task's final status is final, on SQLite and PostgreSQL: a job's start, a late end or any
other status write never sets an ended task back, whenever the cancel was committed.

The race is played for real: while ``start_task`` runs, just before it writes the status,
another connection (another engine, in another thread, as the web process or another
worker would) commits the cancel. A start that reads the row and then writes it loses that
cancel; a conditional UPDATE does not.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import audits
from bot.store.audits import Sessions
from bot.store.db import create_engine, session_factory
from bot.store.migrate import upgrade


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    upgrade(url)
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_engine(database_url)
    yield made
    await made.dispose()


async def queued_task(sessions: Sessions) -> str:
    project_id = await audits.ensure_project(sessions, kind="github", external_id=1,
                                             full_name="octo/demo")
    return await audits.create_task(sessions, project_id=project_id, kind="repository",
                                    job_id="scan_repository:1")


async def _cancel(url: str, task_id: str) -> None:
    other = create_engine(url)
    try:
        await audits.finish_task(session_factory(other), task_id, status="cancelled",
                                 conclusion="cancelled", error="cancelled through the API")
    finally:
        await other.dispose()


def cancel_elsewhere(url: str, task_id: str) -> None:
    """The cancel, committed on its own connection before this returns."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(_cancel(url, task_id))
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the cancel did not commit"
    if failure:
        raise failure[0]


def cancel_before_the_status_write(engine: AsyncEngine, url: str, task_id: str) -> list[str]:
    """Arm a hook that commits the cancel elsewhere just before this engine's first UPDATE
    of a task's status; returns the statements the engine ran on audit_tasks."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "audit_tasks" not in statement:
            return
        seen.append(statement.split()[0].upper())
        if statement.lstrip().upper().startswith("UPDATE") and seen.count("UPDATE") == 1:
            cancel_elsewhere(url, task_id)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    return seen


async def test_a_cancel_committed_while_the_job_starts_is_kept(
    engine: AsyncEngine, database_url: str
) -> None:
    sessions = session_factory(engine)
    task_id = await queued_task(sessions)
    seen = cancel_before_the_status_write(engine, database_url, task_id)

    attempt = await audits.start_task(sessions, task_id)

    assert "UPDATE" in seen  # the cancel was committed while start_task ran
    task = await audits.get_task(sessions, task_id)
    assert task is not None
    assert task.status == "cancelled"  # before the fix: "running"
    assert attempt is None  # the job is told: it stops at once
    assert task.started_at is None and task.attempts == 0


async def test_a_start_after_the_cancel_does_not_run_the_task(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    task_id = await queued_task(sessions)
    assert await audits.finish_task(sessions, task_id, status="cancelled",
                                    conclusion="cancelled")
    assert await audits.start_task(sessions, task_id) is None
    task = await audits.get_task(sessions, task_id)
    assert task is not None and (task.status, task.attempts) == ("cancelled", 0)


async def test_start_counts_attempts_of_a_task_not_ended(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    task_id = await queued_task(sessions)
    assert await audits.start_task(sessions, task_id) == 1
    first = await audits.get_task(sessions, task_id)
    assert await audits.start_task(sessions, task_id) == 2  # a retry of a running task
    again = await audits.get_task(sessions, task_id)
    assert first is not None and again is not None
    assert (again.status, again.started_at) == ("running", first.started_at)
    assert await audits.start_task(sessions, "no-such-task") is None


async def test_the_first_end_stands(engine: AsyncEngine) -> None:
    """A job's own end after a cancel, a late cancel after a success, a status written
    by hand: none replaces the first end recorded; other fields are still written."""
    sessions = session_factory(engine)
    task_id = await queued_task(sessions)
    await audits.start_task(sessions, task_id)
    assert await audits.finish_task(sessions, task_id, status="cancelled",
                                    conclusion="cancelled", error="cancelled through the API")
    assert not await audits.finish_task(sessions, task_id, status="succeeded",
                                        conclusion="success", findings_count=3)
    assert not await audits.update_task(sessions, task_id, status="running")
    assert await audits.update_task(sessions, task_id, check_run_id="77")
    task = await audits.get_task(sessions, task_id)
    assert task is not None
    assert (task.status, task.conclusion, task.error, task.findings_count) == (
        "cancelled", "cancelled", "cancelled through the API", 0)
    assert task.check_run_id == "77"
