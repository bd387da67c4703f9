"""Findings: list with filters, get, triage and its history.

Triage goes through `bot.store.triage.triage`, the one model the report pages and the forges'
feedback use too: the state is set for the finding's fingerprint in its project, so the next
run's pipeline keeps a false positive or a won't-fix silent.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.exceptions import HTTPException

from bot.findings import Category, FindingStatus, Severity
from bot.store.models import FindingRecord
from bot.store.triage import TriageSource, history, triage
from bot.web.api.access import can_triage, get_finding, visible, visible_project_ids
from bot.web.api.paging import like_escaped, page_rows
from bot.web.api.schemas import Page, PageQuery, Text, aware
from bot.web.api.spec import Call, Operation


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


class TriageEventOut(BaseModel):
    at: datetime
    from_state: FindingStatus
    to_state: FindingStatus
    actor: str
    reason: str | None
    source: str


class TriageHistory(BaseModel):
    items: list[TriageEventOut]


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


async def set_state(call: Call) -> FindingOut:
    finding = await get_finding(call.session, call.me, call.params["finding_id"])
    if not await can_triage(call.session, call.me, finding.project_id):
        raise HTTPException(403, "your role on this project is read-only")
    body: FindingUpdate = call.body
    await triage(call.session, finding, body.status, actor=call.me.email, reason=body.reason,
                 source=TriageSource.API)
    return finding_out(finding)


async def get_history(call: Call) -> TriageHistory:
    finding = await get_finding(call.session, call.me, call.params["finding_id"])
    entries = await history(call.session, finding)
    return TriageHistory(items=[TriageEventOut(**asdict(e)) for e in entries])


F = "/api/v1/findings/{finding_id:int}"
OPERATIONS = [
    Operation("GET", "/api/v1/findings", list_findings, "List findings", "findings",
              query=FindingQuery, response=Page[FindingOut]),
    Operation("GET", F, get, "Get a finding", "findings", response=FindingOut),
    Operation("PATCH", F, set_state, "Triage a finding (who, when and why are recorded)",
              "findings", body=FindingUpdate, response=FindingOut, extra_statuses=(403,)),
    Operation("GET", F + "/history", get_history, "A finding's triage history, newest first",
              "findings", response=TriageHistory),
]
