"""Findings: list with filters, get, and triage (open, fixed, false_positive, ignored).

A status is set on every record of the finding's fingerprint in its project, so the next
run's pipeline (`bot.store.audits.silenced_fingerprints`) keeps a dismissed finding silent.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import select, update

from bot.findings import Category, FindingStatus, Severity
from bot.store.models import FindingRecord
from bot.web.api.access import get_finding, visible, visible_project_ids
from bot.web.api.paging import like_escaped, page_rows
from bot.web.api.schemas import Page, PageQuery, Text, aware
from bot.web.api.spec import Call, Operation

log = logging.getLogger(__name__)


class FindingOut(BaseModel):
    id: int
    project_id: int | None
    task_id: str
    pr_number: int | None
    path: str
    start_line: int
    end_line: int
    side: str
    severity: str
    category: str
    cwe: str | None
    title: str
    message: str
    suggestion: str | None
    quote: str | None
    confidence: float
    source: str
    rule_id: str | None
    fingerprint: str
    status: str
    status_reason: str | None
    status_by: str | None
    placement: str
    first_seen_sha: str | None
    last_seen_sha: str | None
    created_at: datetime
    updated_at: datetime


class FindingQuery(PageQuery):
    project_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    task_id: Text | None = Field(default=None, min_length=1, max_length=64)
    severity: Severity | None = None
    min_severity: Severity | None = Field(default=None, description="This severity or worse.")
    category: Category | None = None
    status: FindingStatus | None = None
    path: Text | None = Field(default=None, min_length=1, max_length=1024,
                              description="A file path or a folder prefix ending in '/'.")


class FindingUpdate(BaseModel):
    status: FindingStatus
    reason: Text | None = Field(default=None, max_length=2000)


def finding_out(row: FindingRecord) -> FindingOut:
    now = datetime.now(UTC)
    return FindingOut(
        id=row.id, project_id=row.project_id, task_id=row.task_id, pr_number=row.pr_number,
        path=row.path, start_line=row.start_line, end_line=row.end_line, side=row.side,
        severity=row.severity, category=row.category, cwe=row.cwe, title=row.title,
        message=row.message, suggestion=row.suggestion, quote=row.quote,
        confidence=row.confidence,
        source=row.source, rule_id=row.rule_id, fingerprint=row.fingerprint, status=row.status,
        status_reason=row.status_reason, status_by=row.status_by, placement=row.placement,
        first_seen_sha=row.first_seen_sha, last_seen_sha=row.last_seen_sha,
        created_at=aware(row.created_at) or now, updated_at=aware(row.updated_at) or now,
    )


async def list_findings(call: Call) -> Page[FindingOut]:
    query: FindingQuery = call.query
    ids = await visible_project_ids(call.session, call.me)
    where = [visible(FindingRecord.project_id, ids)]
    if query.project_id is not None:
        where.append(FindingRecord.project_id == query.project_id)
    if query.task_id is not None:
        where.append(FindingRecord.task_id == query.task_id)
    if query.severity is not None:
        where.append(FindingRecord.severity == query.severity.value)
    if query.min_severity is not None:
        worse = [s.value for s in Severity if s.at_least(query.min_severity)]
        where.append(FindingRecord.severity.in_(worse))
    if query.category is not None:
        where.append(FindingRecord.category == query.category.value)
    if query.status is not None:
        where.append(FindingRecord.status == query.status.value)
    if query.path is not None:
        if query.path.endswith("/"):
            where.append(FindingRecord.path.like(f"{like_escaped(query.path)}%", escape="\\"))
        else:
            where.append(FindingRecord.path == query.path)
    rows, total = await page_rows(call.session, select(FindingRecord).where(*where).order_by(
        FindingRecord.created_at.desc(), FindingRecord.id.desc()), query)
    return Page[FindingOut](items=[finding_out(r) for r, in rows], total=total,
                            limit=query.limit, offset=query.offset)


async def get(call: Call) -> FindingOut:
    return finding_out(await get_finding(call.session, call.me, call.params["finding_id"]))


async def triage(call: Call) -> FindingOut:
    finding = await get_finding(call.session, call.me, call.params["finding_id"])
    body: FindingUpdate = call.body
    values = {
        "status": body.status.value,
        "status_reason": body.reason,
        "status_by": call.me.email,
        "updated_at": datetime.now(UTC),
    }
    same = FindingRecord.fingerprint == finding.fingerprint
    scope = (FindingRecord.project_id == finding.project_id) if finding.project_id is not None \
        else (FindingRecord.id == finding.id)
    await call.session.execute(
        update(FindingRecord).where(scope, same).values(**values)
        .execution_options(synchronize_session=False)
    )
    await call.session.refresh(finding)
    log.info("finding %s marked %s by user %s", finding.id, body.status.value, call.me.id)
    return finding_out(finding)


F = "/api/v1/findings/{finding_id:int}"
OPERATIONS = [
    Operation("GET", "/api/v1/findings", list_findings, "List findings", "findings",
              query=FindingQuery, response=Page[FindingOut]),
    Operation("GET", F, get, "Get a finding", "findings", response=FindingOut),
    Operation("PATCH", F, triage, "Set a finding's status (who and why are recorded)",
              "findings", body=FindingUpdate, response=FindingOut),
]
