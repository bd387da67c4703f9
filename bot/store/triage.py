"""Triage: the one place where a finding's state changes by someone's decision, and the
history of those changes (who, when, why, from where).

Every dismissal goes through `triage()`: the API's PATCH, the buttons on the report page,
and the forges' feedback (a "false positive" reply or a 👎 on one of our review comments).
A state belongs to the finding's fingerprint within its project, so a decision holds for
every run that finds the same code again: a false positive or a won't-fix stays silent on
later runs (`bot.store.audits.silenced_fingerprints`), a confirmed finding stays confirmed.

The state is written on every `FindingRecord` of the fingerprint (the pages filter on it
there, indexed) and one `TriageEvent` records the change, in the caller's transaction.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import NotFound
from bot.findings import FindingStatus
from bot.store import learnings
from bot.store.models import FindingRecord, TriageEvent

log = logging.getLogger(__name__)

SILENCED = frozenset(s for s in FindingStatus if s.silenced)
ACTIVE = frozenset(s for s in FindingStatus if s.active)
ACTOR_LIMIT = 255
REASON_LIMIT = 2000


class TriageSource(enum.StrEnum):
    """Where a decision was made. Add a member for a new channel (code scanning, ...)."""

    WEB = "web"  # the buttons on the report page
    API = "api"  # PATCH /api/v1/findings/{id}
    GITHUB = "github"  # a reply or a 👎 on our review comment in a pull request
    GITLAB = "gitlab"  # a reply or a 👎 award on our note in a merge request
    CODE_SCANNING = "code_scanning"  # an alert dismissed or reopened in GitHub's Security tab


@dataclass(frozen=True)
class TriageResult:
    """What `triage()` did: ``changed`` is False when the state already was ``state`` or
    ``keep`` protected it (then no event is written and nothing is updated)."""

    fingerprint: str
    previous: FindingStatus
    state: FindingStatus
    changed: bool
    records: int  # findings rows now carrying the state
    event_id: int | None


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    from_state: FindingStatus
    to_state: FindingStatus
    actor: str
    reason: str | None
    source: str


async def triage(
    session: AsyncSession,
    finding: FindingRecord,
    state: FindingStatus,
    *,
    actor: str,
    reason: str | None,
    source: TriageSource,
    keep: Collection[FindingStatus] = (),
    learn: bool = True,
) -> TriageResult:
    """Set ``finding``'s state for its whole fingerprint in its project, recording who
    (``actor``: an e-mail or a forge login), why and where; the caller commits.

    A dismissal with a reason also becomes a learning for the repository
    (``bot.store.learnings``) unless ``learn`` is False (auditbot's own generic wording).

    ``keep`` names current states this call must not override: the forges' feedback passes
    the dismissed states, so a person's won't-fix is not turned into a false positive by a
    👎 read on a later run. The state before is read from ``finding``'s latest sibling, so
    two rows of one fingerprint can never disagree after a call.
    """
    scope = _scope(finding)
    latest = await session.scalar(
        select(FindingRecord.status).where(*scope).order_by(FindingRecord.id.desc()).limit(1)
    )
    previous = FindingStatus(latest or finding.status)
    if previous is state or previous in keep:
        return TriageResult(finding.fingerprint, previous, previous, False, 0, None)
    actor = actor[:ACTOR_LIMIT]
    reason = reason[:REASON_LIMIT] if reason else None
    now = datetime.now(UTC)
    result = await session.execute(
        update(FindingRecord)
        .where(*scope)
        .values(status=state.value, status_reason=reason, status_by=actor, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    event = TriageEvent(
        project_id=finding.project_id, fingerprint=finding.fingerprint, finding_id=finding.id,
        from_state=previous.value, to_state=state.value, actor=actor, reason=reason,
        source=source.value, created_at=now,
    )
    session.add(event)
    await session.flush()
    if learn and reason and state.silenced:
        await learnings.learn(session, finding, state, reason=reason, actor=actor,
                              source=source.value)
    await session.refresh(finding)
    log.info("finding %s (%s) %s -> %s by %s via %s", finding.id, finding.fingerprint[:12],
             previous.value, state.value, actor, source.value)
    return TriageResult(finding.fingerprint, previous, state, True,
                        int(getattr(result, "rowcount", 0) or 0), event.id)


async def triage_fingerprint(
    session: AsyncSession,
    project_id: int,
    fingerprint: str,
    state: FindingStatus,
    *,
    actor: str,
    reason: str | None,
    source: TriageSource,
    keep: Collection[FindingStatus] = (),
    learn: bool = True,
) -> TriageResult:
    """`triage()` for a decision that names a fingerprint, not a row (a forge's reply
    carries our comment's marker): acts on the fingerprint's latest record in the project.
    Raises `NotFound` when the project has no finding with that fingerprint."""
    finding = await session.scalar(
        select(FindingRecord)
        .where(FindingRecord.project_id == project_id, FindingRecord.fingerprint == fingerprint)
        .order_by(FindingRecord.id.desc())
        .limit(1)
    )
    if finding is None:
        raise NotFound(f"no finding with fingerprint {fingerprint[:16]} in project {project_id}")
    return await triage(session, finding, state, actor=actor, reason=reason, source=source,
                        keep=keep, learn=learn)


async def triage_fingerprint_in(
    sessions: async_sessionmaker[AsyncSession],
    project_id: int,
    fingerprint: str,
    state: FindingStatus,
    **options: Any,
) -> TriageResult:
    """`triage_fingerprint()` (``options`` are its keywords) in a transaction of its own:
    a job's decision."""
    async with sessions() as session, session.begin():
        return await triage_fingerprint(session, project_id, fingerprint, state, **options)


async def dismiss_from_forge(
    sessions: async_sessionmaker[AsyncSession],
    project_id: int,
    marked: Mapping[str, str],
    source: TriageSource,
) -> list[str]:
    """The forges' dismiss flow: {fingerprint: who} read from replies and 👎 on our review
    comments become false positives (a decision already made stands); returns the
    fingerprints that changed. A fingerprint the project never stored is skipped. Who may
    decide is the caller's check (bot.jobs.conversation.feedback reads write access)."""
    changed: list[str] = []
    async with sessions() as session, session.begin():
        for fingerprint, who in marked.items():
            try:
                result = await triage_fingerprint(
                    session, project_id, fingerprint, FindingStatus.FALSE_POSITIVE,
                    actor=who, reason=f"marked false positive in the {_place(source)}",
                    source=source, keep=SILENCED, learn=False,
                )
            except NotFound:
                log.info("feedback on unknown finding %s ignored", fingerprint[:16])
                continue
            if result.changed:
                changed.append(fingerprint)
    return changed


async def history(
    session: AsyncSession, finding: FindingRecord, *, limit: int = 50
) -> list[HistoryEntry]:
    """The fingerprint's decisions in its project, newest first."""
    if finding.project_id is None:
        where = [TriageEvent.finding_id == finding.id]
    else:
        where = [TriageEvent.project_id == finding.project_id,
                 TriageEvent.fingerprint == finding.fingerprint]
    rows = await session.scalars(
        select(TriageEvent).where(*where)
        .order_by(TriageEvent.created_at.desc(), TriageEvent.id.desc()).limit(limit)
    )
    return [
        HistoryEntry(at=_aware(e.created_at), from_state=FindingStatus(e.from_state),
                     to_state=FindingStatus(e.to_state), actor=e.actor, reason=e.reason,
                     source=e.source)
        for e in rows
    ]


def _place(source: TriageSource) -> str:
    return "merge request" if source is TriageSource.GITLAB else "pull request"


def _scope(finding: FindingRecord) -> list[ColumnElement[bool]]:
    # Findings without a project (CLI runs stored locally) have no siblings to share with.
    if finding.project_id is None:
        return [FindingRecord.id == finding.id]
    return [FindingRecord.project_id == finding.project_id,
            FindingRecord.fingerprint == finding.fingerprint]


def _aware(value: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive; every stored time is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
