"""What people decided about findings, as the pipeline asks it: "which of these
fingerprints did someone mark false positive or ignored in this project?"."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.analysis.findings import FindingStatus
from bot.store.models import FindingRecord

SILENCING = (FindingStatus.FALSE_POSITIVE.value, FindingStatus.IGNORED.value)


async def silenced_fingerprints(
    session: AsyncSession, project_id: int, fingerprints: Iterable[str]
) -> dict[str, str]:
    """``{fingerprint: status}`` for the given fingerprints a person dismissed in the project;
    the pipeline keeps those findings out of comments and the check's conclusion."""
    wanted = sorted(set(fingerprints))
    found: dict[str, str] = {}
    # Chunks keep the IN list under SQLite's variable limit.
    for start in range(0, len(wanted), 500):
        rows = await session.execute(
            select(FindingRecord.fingerprint, FindingRecord.status).where(
                FindingRecord.project_id == project_id,
                FindingRecord.fingerprint.in_(wanted[start : start + 500]),
                FindingRecord.status.in_(SILENCING),
            )
        )
        for fingerprint, status in rows:
            found[fingerprint] = status
    return found
