"""The report page at `/reports/{task_id}` and the triage form its findings carry.

A report opens with the signed link a check run (or the API's ``report_url``) carries:
``?token=``, audience ``report``, that one task, read-only; or with a logged-in account
allowed to see the project, which also gets the triage buttons when its role allows. An
expired or broken link leads to the login page, never to an error.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.errors import NotFound
from bot.findings import FindingStatus, Severity
from bot.reports.links import ForgeHosts, RepoLinks
from bot.reports.model import Report
from bot.signing import ExpiredToken, InvalidToken, verify_report_token
from bot.store.models import AuditTask, FindingRecord, Project, TriageEvent
from bot.store.triage import TriageSource, triage
from bot.web.api.access import can_see, can_triage, get_finding
from bot.web.api.schemas import aware
from bot.web.pages import session as web_session
from bot.web.pages.account import safe_next
from bot.web.pages.render import STATE_LABELS, page
from bot.web.pages.viewer import Viewer, signed_in, to_login

PER_PAGE = 50
TRIAGE_STATES = (FindingStatus.CONFIRMED, FindingStatus.FALSE_POSITIVE, FindingStatus.WONT_FIX,
                 FindingStatus.OPEN)
NOTICES = {"triaged": "Saved. The decision holds for this finding on every later audit."}
SEVERITIES = frozenset(s.value for s in Severity)
_RANK = case({s.value: s.rank for s in Severity}, value=FindingRecord.severity, else_=0)


async def report_page(request: Request) -> Response:
    task_id: str = request.path_params["task_id"]
    here = f"/reports/{task_id}"
    state = request.app.state
    token = request.query_params.get("token")
    async with state.sessions() as db:
        viewer = await signed_in(request, db)
        task = await db.get(AuditTask, task_id)
        allowed = viewer is not None and task is not None and \
            await can_see(db, viewer.user, task.project_id)
        if not allowed and token:
            try:
                verify_report_token(state.settings, token, task_id)
            except ExpiredToken:
                return to_login(here, "expired")
            except InvalidToken:
                return to_login(here, "invalid")
            allowed, viewer, token_used = task is not None, None, token
        else:
            token_used = None
        if viewer is None and token_used is None:
            return to_login(here)
        if task is None or not allowed:
            raise NotFound("there is no such report, or it is not yours to see")
        context = await _report_context(request, db, task, viewer, token_used)
    return page(request, "task.html.j2", viewer, **context)


async def _report_context(request: Request, db: AsyncSession, task: AuditTask,
                          viewer: Viewer | None, token: str | None) -> dict[str, Any]:
    params = request.query_params
    severity = params.get("severity") if params.get("severity") in SEVERITIES else None
    state = params.get("state") if params.get("state") in STATE_LABELS else None
    where = [FindingRecord.task_id == task.id]
    if severity:
        where.append(FindingRecord.severity == severity)
    if state:
        where.append(FindingRecord.status == state)
    total = int(await db.scalar(select(func.count()).where(*where)) or 0)
    pages = max(1, -(-total // PER_PAGE))
    number = params.get("page", "1")
    current = min(pages, max(1, int(number))) if number.isdigit() and len(number) < 7 else 1
    rows = list(await db.scalars(
        select(FindingRecord).where(*where)
        .order_by(_RANK.desc(), FindingRecord.path, FindingRecord.start_line, FindingRecord.id)
        .offset((current - 1) * PER_PAGE).limit(PER_PAGE)))
    counted = await db.execute(
        select(FindingRecord.severity, func.count()).where(
            FindingRecord.task_id == task.id,
            FindingRecord.status.not_in([s.value for s in FindingStatus if s.silenced]))
        .group_by(FindingRecord.severity))
    counts = {sev: int(n) for sev, n in counted}
    project = await db.get(Project, task.project_id) if task.project_id else None
    info = Report.from_rows(task, [], project).task
    links = RepoLinks.of(ForgeHosts.from_settings(request.app.state.settings),
                         project.kind if project else None, project.full_name if project else None)
    history = await _histories(db, task.project_id, rows)
    findings = [_finding_view(row, task, links, history) for row in rows]
    query_base = {k: v for k, v in params.items() if k in ("severity", "state", "token")}
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "task": info, "links": links, "findings": findings, "total": total,
        "counts": counts, "filters": {"severity": severity, "state": state},
        "page": current, "pages": pages, "query_base": query_base, "token": token,
        "can_triage": viewer is not None and await can_triage(db, viewer.user,
                                                               task.project_id),
        "back": _without_token(back), "notice": NOTICES.get(params.get("notice", "")),
        "skipped": Report.from_rows(task, [], project).skipped,
    }


def _finding_view(row: FindingRecord, task: AuditTask, links: RepoLinks | None,
                  history: dict[str, list[TriageEvent]]) -> dict[str, Any]:
    sha = (task.base_sha if row.side == "old" else task.head_sha) or row.last_seen_sha
    link = links.lines(sha, row.path, row.start_line, row.end_line) if links and sha else None
    return {
        "id": row.id, "title": row.title, "severity": row.severity, "category": row.category,
        "cwe": row.cwe, "source": row.source, "rule_id": row.rule_id, "path": row.path,
        "start_line": max(1, row.start_line), "end_line": max(row.start_line, row.end_line, 1),
        "confidence": min(1.0, max(0.0, row.confidence)), "quote": row.quote,
        "message": row.message, "suggestion": row.suggestion, "status": row.status,
        "status_by": row.status_by, "status_reason": row.status_reason, "link": link,
        "history": [_event_view(e) for e in history.get(_history_key(row), [])],
    }


def _event_view(event: TriageEvent) -> dict[str, Any]:
    return {"at": aware(event.created_at), "from_state": FindingStatus(event.from_state),
            "to_state": FindingStatus(event.to_state), "actor": event.actor,
            "reason": event.reason, "source": event.source}


def _history_key(row: FindingRecord) -> str:
    return row.fingerprint if row.project_id is not None else f"#{row.id}"


async def _histories(db: AsyncSession, project_id: int | None,
                     rows: list[FindingRecord]) -> dict[str, list[TriageEvent]]:
    """The decisions about the findings on this page, newest first, in one query."""
    if not rows:
        return {}
    where: ColumnElement[bool]
    if project_id is None:
        where = TriageEvent.finding_id.in_([r.id for r in rows])
    else:
        where = (TriageEvent.project_id == project_id) & TriageEvent.fingerprint.in_(
            sorted({r.fingerprint for r in rows}))
    events = await db.scalars(select(TriageEvent).where(where).order_by(
        TriageEvent.created_at.desc(), TriageEvent.id.desc()).limit(20 * PER_PAGE))
    grouped: dict[str, list[TriageEvent]] = defaultdict(list)
    for event in events:
        key = event.fingerprint if project_id is not None else f"#{event.finding_id}"
        grouped[key].append(event)
    return grouped


def _without_token(path: str) -> str:
    # The form's way back must not carry a report token into a logged-in page.
    base, _, query = path.partition("?")
    kept = "&".join(p for p in query.split("&") if p and not p.startswith(("token=", "notice=")))
    return base + (f"?{kept}" if kept else "")


async def triage_form(request: Request) -> Response:
    finding_id: int = request.path_params["finding_id"]
    async with request.app.state.sessions() as db:
        viewer = await signed_in(request, db)
        if viewer is None:
            raise HTTPException(401, "log in to triage findings")
        form = await web_session.form(request, viewer.session)
        try:
            state = FindingStatus(form.get("state", ""))
        except ValueError:
            raise HTTPException(400, "choose confirm, false positive, won't fix or reopen") \
                from None
        if state not in TRIAGE_STATES:
            raise HTTPException(400, "choose confirm, false positive, won't fix or reopen")
        finding = await get_finding(db, viewer.user, finding_id)
        if not await can_triage(db, viewer.user, finding.project_id):
            raise HTTPException(403, "your role on this project is read-only")
        reason = form.get("reason", "").strip()[:2000] or None
        await triage(db, finding, state, actor=viewer.user.email, reason=reason,
                     source=TriageSource.WEB)
        await db.commit()
        task_id = finding.task_id
    back = safe_next(form.get("back"))
    if not back.startswith(f"/reports/{task_id}"):
        back = f"/reports/{task_id}"
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}notice=triaged#finding-{finding_id}", 303)
