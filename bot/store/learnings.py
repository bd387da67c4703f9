"""Learnings: short, repository-specific guidance made from dismissals with their reasons.

A person with the right to decide (write access on the forge, a project member in
auditbot, a code scanning dismissal on GitHub) dismisses a finding and says why; the reason
becomes a note for the finding's folder ("tests/**: a false positive: the keys in these
fixtures are fake"). Later reviews of paths the glob matches show the model the notes as
untrusted data, next to the code, bounded in number and size. People see and delete them on
the project page and through the API. `triage()` records them (``learn=True``); a dismissal
without a reason, or with only auditbot's generic wording, teaches nothing.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.findings import FindingStatus
from bot.store.models import FindingRecord, Learning

# Per project, the newest are kept (a review shows those of its paths: llm_review._notes).
MAX_PER_PROJECT = 50
TEXT_LIMIT = 300
_LABELS = {FindingStatus.FALSE_POSITIVE: "a false positive", FindingStatus.WONT_FIX: "won't fix"}


@dataclass(frozen=True)
class LearningView:
    id: int
    path_glob: str
    text: str
    source: str
    actor: str
    created_at: datetime


def glob_for(path: str) -> str:
    """The finding's folder (``tests/unit/**``), or the file itself at the repository root."""
    folder = posixpath.dirname(path)
    return f"{folder}/**" if folder else path


async def learn(
    session: AsyncSession,
    finding: FindingRecord,
    state: FindingStatus,
    *,
    reason: str,
    actor: str,
    source: str,
) -> Learning | None:
    """Record a note from a dismissal of ``finding`` with ``reason``; the caller commits."""
    if finding.project_id is None or state not in _LABELS or not reason.strip():
        return None
    said = " ".join(reason.split())
    text = f"{finding.title}: {_LABELS[state]}, because {said}"
    if len(text) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT - 1].rstrip() + "…"
    # One note per finding: a second dismissal replaces the first.
    await session.execute(delete(Learning).where(
        Learning.project_id == finding.project_id, Learning.fingerprint == finding.fingerprint))
    note = Learning(project_id=finding.project_id, path_glob=glob_for(finding.path), text=text,
                    fingerprint=finding.fingerprint, source=source, actor=actor[:255])
    session.add(note)
    await session.flush()
    stale = list(await session.scalars(
        select(Learning.id).where(Learning.project_id == finding.project_id)
        .order_by(Learning.id.desc()).offset(MAX_PER_PROJECT)))
    if stale:
        await session.execute(delete(Learning).where(Learning.id.in_(stale)))
    return note


async def project_learnings(session: AsyncSession, project_id: int) -> list[LearningView]:
    """The project's notes, newest first (at most MAX_PER_PROJECT exist)."""
    rows = await session.scalars(
        select(Learning).where(Learning.project_id == project_id).order_by(Learning.id.desc()))
    return [LearningView(r.id, r.path_glob, r.text, r.source, r.actor, r.created_at)
            for r in rows]


async def forget(session: AsyncSession, project_id: int, learning_id: int) -> bool:
    """Delete one note of the project; False when it has no such note."""
    result = await session.execute(delete(Learning).where(
        Learning.project_id == project_id, Learning.id == learning_id))
    return bool(getattr(result, "rowcount", 0))


async def review_notes(
    sessions: async_sessionmaker[AsyncSession], project_id: int
) -> tuple[tuple[str, str], ...]:
    """(glob, text) of the project's notes, newest first, for a review's prompt."""
    async with sessions() as session:
        return tuple((n.path_glob, n.text) for n in await project_learnings(session, project_id))
