"""The triage model: one decision per fingerprint and project, its history, the forges' dismiss
flow (a decision already made stands), and a confirmed finding found again staying confirmed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import NotFound
from bot.findings import Finding, FindingStatus, Severity
from bot.store import audits
from bot.store.db import create_engine, session_factory
from bot.store.migrate import upgrade
from bot.store.models import AuditTask, FindingRecord, Project, TriageEvent
from bot.store.triage import (
    SILENCED,
    TriageSource,
    dismiss_from_forge,
    history,
    triage,
    triage_fingerprint,
)

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def migrated(sqlite_url: str) -> str:
    upgrade(sqlite_url)  # synchronous: outside the test's event loop
    return sqlite_url


@pytest.fixture
async def sessions(migrated: str) -> AsyncIterator[Sessions]:
    engine = create_engine(migrated)
    yield session_factory(engine)
    await engine.dispose()


async def _seed(sessions: Sessions, *fingerprints: str, project: int | None = None) -> list[int]:
    async with sessions() as session, session.begin():
        if project is None:
            row = Project(kind="github", full_name="acme/app", external_id=1, settings={})
            session.add(row)
            await session.flush()
            project = row.id
        task = AuditTask(project_id=project, kind="review", progress={}, counts={})
        session.add(task)
        await session.flush()
        rows = [FindingRecord(project_id=project, task_id=task.id, path="a.py", start_line=1,
                              end_line=1, severity="high", category="security", title="t",
                              message="m", source="static", fingerprint=fp)
                for fp in fingerprints]
        session.add_all(rows)
        await session.flush()
        return [r.id for r in rows]


async def _states(sessions: Sessions) -> list[tuple[str, str, str | None]]:
    async with sessions() as session:
        rows = await session.scalars(select(FindingRecord).order_by(FindingRecord.id))
        return [(r.fingerprint, r.status, r.status_by) for r in rows]


async def test_a_decision_holds_for_every_record_of_the_fingerprint(sessions: Sessions) -> None:
    first, _ = await _seed(sessions, "fp-a", "fp-b")
    async with sessions() as session:
        project = (await session.get(FindingRecord, first)).project_id  # type: ignore[union-attr]
    await _seed(sessions, "fp-a", project=project)
    async with sessions() as session, session.begin():
        finding = await session.get(FindingRecord, first)
        assert finding is not None
        result = await triage(session, finding, FindingStatus.WONT_FIX, actor="ann@example.com",
                              reason="legacy", source=TriageSource.WEB)
    assert (result.previous, result.state, result.changed, result.records) == (
        FindingStatus.OPEN, FindingStatus.WONT_FIX, True, 2)
    assert await _states(sessions) == [("fp-a", "wont_fix", "ann@example.com"),
                                       ("fp-b", "open", None),
                                       ("fp-a", "wont_fix", "ann@example.com")]
    assert "fp-a" in await audits.silenced_fingerprints(sessions, project)
    async with sessions() as session:
        finding = await session.get(FindingRecord, first)
        assert finding is not None
        [entry] = await history(session, finding)
    assert (entry.from_state, entry.to_state, entry.actor, entry.reason, entry.source) == (
        FindingStatus.OPEN, FindingStatus.WONT_FIX, "ann@example.com", "legacy", "web")


async def test_forge_feedback_does_not_override_a_decision(sessions: Sessions) -> None:
    ids = await _seed(sessions, "fp-1", "fp-2", "fp-3")
    async with sessions() as session, session.begin():
        finding = await session.get(FindingRecord, ids[0])
        assert finding is not None
        project = finding.project_id
        assert project is not None
        await triage(session, finding, FindingStatus.WONT_FIX, actor="lead@example.com",
                     reason="accepted risk", source=TriageSource.API)
    marked = {"fp-1": "alice", "fp-2": "bob", "fp-unknown": "carol"}
    assert await dismiss_from_forge(sessions, project, marked, TriageSource.GITLAB) == ["fp-2"]
    assert await _states(sessions) == [("fp-1", "wont_fix", "lead@example.com"),
                                       ("fp-2", "false_positive", "bob"),
                                       ("fp-3", "open", None)]
    # Read again on the next run: nothing changes, no second event.
    assert await dismiss_from_forge(sessions, project, marked, TriageSource.GITLAB) == []
    async with sessions() as session:
        events = (await session.scalars(select(TriageEvent).order_by(TriageEvent.id))).all()
    assert [(e.fingerprint, e.to_state, e.actor, e.source, e.reason) for e in events] == [
        ("fp-1", "wont_fix", "lead@example.com", "api", "accepted risk"),
        ("fp-2", "false_positive", "bob", "gitlab",
         "marked false positive in the merge request"),
    ]
    assert {FindingStatus.FALSE_POSITIVE, FindingStatus.WONT_FIX} == SILENCED


async def test_unknown_fingerprint_is_not_found(sessions: Sessions) -> None:
    await _seed(sessions, "fp-1")
    async with sessions() as session:
        with pytest.raises(NotFound):
            await triage_fingerprint(session, 1, "nope", FindingStatus.CONFIRMED, actor="x",
                                     reason=None, source=TriageSource.API)


async def test_confirmed_finding_found_again_stays_confirmed(sessions: Sessions) -> None:
    [first] = await _seed(sessions, "fp-c")
    async with sessions() as session, session.begin():
        finding = await session.get(FindingRecord, first)
        assert finding is not None
        project = finding.project_id
        await triage(session, finding, FindingStatus.CONFIRMED, actor="ann@example.com",
                     reason="reproduced", source=TriageSource.WEB)
        task = AuditTask(project_id=project, kind="review", progress={}, counts={})
        session.add(task)
        await session.flush()
        task_id = task.id
    found = Finding(path="a.py", start_line=3, end_line=3, severity=Severity.HIGH,
                    category="security", title="t", message="m", source="static",
                    fingerprint="fp-c")
    other = found.model_copy(update={"fingerprint": "fp-new"})
    await audits.save_findings(sessions, task_id=task_id, project_id=project, pr_number=None,
                               head_sha="b" * 40, placed=[(found, "inline", None),
                                                          (other, "inline", None)])
    states = await _states(sessions)
    assert states[-2:] == [("fp-c", "confirmed", "ann@example.com"), ("fp-new", "open", None)]
