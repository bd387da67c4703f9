"""A project's page: its findings (filters: state, severity, category, path), its audits,
its learnings from dismissals (members delete them), its settings (budgets; administrators
change them) and its members (administrators grant and revoke)."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.errors import NotFound
from bot.findings import Category, FindingStatus, Severity
from bot.reports.links import ForgeHosts, RepoLinks
from bot.store import learnings
from bot.store.audits import project_policy
from bot.store.models import AuditTask, ProjectMember, User
from bot.web.api.access import MEMBER, VIEWER, can_triage, get_project
from bot.web.pages import queries
from bot.web.pages import session as web_session
from bot.web.pages.dashboard import page_number, task_rows
from bot.web.pages.render import STATE_LABELS, href, page
from bot.web.pages.viewer import Viewer, signed_in, to_login

STATE_OPTIONS = [("active", "Open or confirmed"), ("all", "Any"),
                 *((s.value, STATE_LABELS[s.value]) for s in FindingStatus)]
NOTICES = {"saved": "Settings saved.", "granted": "Access granted.", "revoked": "Access revoked.",
           "no-user": "There is no account with that e-mail address.",
           "forgotten": "Learning deleted: later reviews no longer show it."}


def filters_of(request: Request) -> queries.FindingFilters:
    """The filters from the query string; a value no list offers is dropped, not an error."""
    params = request.query_params
    state = params.get("state", "active")
    if state not in {value for value, _ in STATE_OPTIONS}:
        state = "active"
    severity = params.get("severity") or None
    category = params.get("category") or None
    path = (params.get("path") or "").strip()[:1024] or None
    return queries.FindingFilters(
        state=state,
        severity=severity if severity in {s.value for s in Severity} else None,
        category=category if category in {c.value for c in Category} else None,
        path=path,
    )


async def project_page(request: Request) -> Response:
    project_id: int = request.path_params["project_id"]
    state = request.app.state
    async with state.sessions() as db:
        viewer = await signed_in(request, db)
        if viewer is None:
            return to_login(request.url.path)
        project = await get_project(db, viewer.user, project_id)  # NotFound: an error page
        filters = filters_of(request)
        findings_after = request.query_params.get("after")
        findings = await queries.findings_page(db, project.id, filters, findings_after)
        tasks_after = request.query_params.get("tasks_after")
        tasks = await queries.tasks_page(db, AuditTask.project_id == project.id, tasks_after)
        number = page_number(request, "members")
        members = (await db.execute(
            select(ProjectMember.user_id, ProjectMember.role, User.email)
            .join(User, User.id == ProjectMember.user_id)
            .where(ProjectMember.project_id == project.id).order_by(User.email)
            .offset((number - 1) * queries.PAGE_SIZE).limit(queries.PAGE_SIZE + 1))).all()
        task_list = await task_rows(db, tasks.rows)
        notes = await learnings.project_learnings(db, project.id)
        may_triage = await can_triage(db, viewer.user, project.id)
    params = dict(request.query_params)
    params.pop("notice", None)
    links = RepoLinks.of(ForgeHosts.from_settings(state.settings), project.kind,
                         project.full_name)
    return page(
        request, "project.html.j2", viewer,
        project=project, repo_url=links.base if links else None,
        notice=NOTICES.get(request.query_params.get("notice", "")),
        filters=filters, state_options=STATE_OPTIONS,
        categories=[c.value for c in Category],
        findings=findings.rows,
        findings_first=href(params, after=None) + "#findings" if findings_after else None,
        findings_next=(href(params, after=findings.next_key) + "#findings"
                       if findings.next_key else None),
        tasks=task_list,
        tasks_first=href(params, tasks_after=None) + "#tasks" if tasks_after else None,
        tasks_next=(href(params, tasks_after=tasks.next_key) + "#tasks"
                    if tasks.next_key else None),
        members=[{"user_id": u, "role": r, "email": e} for u, r, e in members[:queries.PAGE_SIZE]],
        members_first=href(params, members=None) + "#members" if number > 1 else None,
        members_next=(href(params, members=number + 1) + "#members"
                      if len(members) > queries.PAGE_SIZE else None),
        defaults={"monthly": state.settings.budget_project_monthly_usd,
                  "per_task": state.settings.budget_per_task_usd},
        server_models=state.settings.allowed_models,
        allowed_models=(await project_policy(state.sessions, project.id,
                                             state.settings.allowed_models)).allowed_models,
        learnings=notes, may_triage=may_triage,
    )


async def _admin_form(request: Request) -> tuple[Viewer, dict[str, str]]:
    async with request.app.state.sessions() as db:
        viewer = await signed_in(request, db)
    if viewer is None:
        raise HTTPException(401, "log in first")
    form = await web_session.form(request, viewer.session)
    if not viewer.user.is_admin:
        raise HTTPException(403, "only administrators change projects")
    return viewer, form


def _money(value: str, limit: float) -> float | None:
    text = value.strip()
    if not text:
        return None
    try:
        amount = float(text)
    except ValueError:
        raise HTTPException(400, f"{text[:20]!r} is not an amount in USD") from None
    if not 0 <= amount <= limit:
        raise HTTPException(400, f"an amount must be between 0 and {limit:g} USD")
    return amount


async def save_settings(request: Request) -> Response:
    viewer, form = await _admin_form(request)
    project_id: int = request.path_params["project_id"]
    monthly = _money(form.get("budget_monthly_usd", ""), 1_000_000)
    per_task = _money(form.get("budget_per_task_usd", ""), 100_000)
    async with request.app.state.sessions() as db:
        project = await get_project(db, viewer.user, project_id)
        project.budget_monthly_usd = monthly
        project.budget_per_task_usd = per_task
        project.enabled = form.get("enabled", "1") != "0"
        server = request.app.state.settings.allowed_models
        if server:  # which of the server's models this project keeps
            kept = {value for key, value in form.items() if key.startswith("model-")}
            project.settings = {**(project.settings or {}),
                                "allowed_models": [m for m in server if m in kept]}
        await db.commit()
    return RedirectResponse(f"/projects/{project_id}?notice=saved#settings", status_code=303)


async def grant(request: Request) -> Response:
    viewer, form = await _admin_form(request)
    project_id: int = request.path_params["project_id"]
    role = form.get("role", MEMBER)
    if role not in (MEMBER, VIEWER):
        raise HTTPException(400, "the role is member or viewer")
    email = form.get("email", "").strip().lower()
    async with request.app.state.sessions() as db:
        project = await get_project(db, viewer.user, project_id)
        user = await db.scalar(select(User).where(func.lower(User.email) == email))
        if user is None:
            return RedirectResponse(f"/projects/{project_id}?notice=no-user#members", 303)
        member = await db.get(ProjectMember, (user.id, project.id))
        if member is None:
            db.add(ProjectMember(user_id=user.id, project_id=project.id, role=role))
        else:
            member.role = role
        await db.commit()
    return RedirectResponse(f"/projects/{project_id}?notice=granted#members", status_code=303)


async def revoke(request: Request) -> Response:
    viewer, _ = await _admin_form(request)
    project_id: int = request.path_params["project_id"]
    async with request.app.state.sessions() as db:
        project = await get_project(db, viewer.user, project_id)
        result = await db.execute(delete(ProjectMember).where(
            ProjectMember.project_id == project.id,
            ProjectMember.user_id == request.path_params["user_id"]))
        if not getattr(result, "rowcount", 0):
            raise NotFound("that account has no grant on this project")
        await db.commit()
    return RedirectResponse(f"/projects/{project_id}?notice=revoked#members", status_code=303)
