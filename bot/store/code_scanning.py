"""The queries of GitHub code scanning's jobs (bot/jobs/code_scanning.py, bot/jobs/alerts.py):
a branch's previous analysis, the findings an alert was made from, the latest record of a
fingerprint, and the triage decisions made since a mark."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select

from bot.store.audits import Sessions
from bot.store.models import AuditTask, FindingRecord, TriageEvent

PROGRESS_KEY = "code_scanning"  # task.progress[PROGRESS_KEY]: the analysis uploaded for it


async def previous_branch_analysis(
    sessions: Sessions, project_id: int, ref: str, *, other_than_task: str
) -> list[str] | None:
    """The fingerprints the newest earlier analysis of ``ref`` (a push or repository scan
    that uploaded one) held; None when there was none."""
    async with sessions() as session:
        tasks = await session.scalars(
            select(AuditTask)
            .where(AuditTask.project_id == project_id, AuditTask.head_ref == ref,
                   AuditTask.kind.in_(("push", "repository")), AuditTask.id != other_than_task,
                   AuditTask.status == "succeeded")
            .order_by(AuditTask.created_at.desc())
            .limit(20)
        )
        for task in tasks:
            record: Any = (task.progress or {}).get(PROGRESS_KEY)
            if isinstance(record, dict) and isinstance(record.get("fingerprints"), list):
                return [str(fp) for fp in record["fingerprints"]]
    return None


async def latest_records(
    sessions: Sessions, project_id: int, fingerprints: Collection[str]
) -> dict[str, FindingRecord]:
    """The newest record of each fingerprint in the project."""
    if not fingerprints:
        return {}
    async with sessions() as session:
        rows = await session.scalars(
            select(FindingRecord)
            .where(FindingRecord.project_id == project_id,
                   FindingRecord.fingerprint.in_(list(fingerprints)))
            .order_by(FindingRecord.id.desc())
        )
        latest: dict[str, FindingRecord] = {}
        for row in rows:
            latest.setdefault(row.fingerprint, row)
        return latest


async def records_at(
    sessions: Sessions, project_id: int, path: str, start_line: int
) -> list[FindingRecord]:
    """The project's records of findings that start at ``path``:``start_line``, newest first."""
    async with sessions() as session:
        return list(await session.scalars(
            select(FindingRecord)
            .where(FindingRecord.project_id == project_id, FindingRecord.path == path,
                   FindingRecord.start_line == start_line)
            .order_by(FindingRecord.id.desc())
            .limit(200)
        ))


async def newest_event_id(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.max(TriageEvent.id))) or 0)


async def events_after(
    sessions: Sessions, mark: int, *, except_source: str, limit: int
) -> list[TriageEvent]:
    """Triage decisions after ``mark``, oldest first, except those of ``except_source``."""
    async with sessions() as session:
        return list(await session.scalars(
            select(TriageEvent)
            .where(TriageEvent.id > mark, TriageEvent.source != except_source)
            .order_by(TriageEvent.id)
            .limit(limit)
        ))
