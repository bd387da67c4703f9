"""Projects: list, get, create (archive projects: ZIP uploads), update settings and budgets,
delete, and the members granted each project.

GitHub and GitLab projects appear on their first webhook. A `local` project is what
`auditbot review` records for a repository on the machine it runs on; the server cannot
scan it, so the API neither creates nor scans one (no option that can only fail).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from starlette.exceptions import HTTPException

from bot.errors import NotFound
from bot.store.models import Project, ProjectMember, User
from bot.web.api.access import get_project, visible, visible_project_ids
from bot.web.api.paging import like_escaped, page_rows
from bot.web.api.schemas import Page, PageQuery, Text, aware
from bot.web.api.spec import Call, Operation


class ProjectOut(BaseModel):
    id: int
    kind: str
    full_name: str
    default_branch: str
    private: bool
    enabled: bool
    settings: dict[str, Any]
    budget_monthly_usd: float | None
    budget_per_task_usd: float | None
    installation_id: int | None
    created_at: datetime
    updated_at: datetime


class ProjectQuery(PageQuery):
    kind: Literal["github", "gitlab", "local", "archive"] | None = None
    q: Text | None = Field(default=None, max_length=200, description="Name contains.")


class ProjectCreate(BaseModel):
    kind: Literal["archive"] = Field(description="A project whose code arrives as ZIP uploads.")
    full_name: Text = Field(min_length=1, max_length=512)
    default_branch: Text = Field(default="main", min_length=1, max_length=255)


class ProjectUpdate(BaseModel):
    enabled: bool | None = Field(
        default=None, description="false: pull requests are not reviewed (their check says "
                                  "why); scans still run when asked.")
    default_branch: Text | None = Field(default=None, min_length=1, max_length=255)
    settings: dict[str, Any] | None = Field(
        default=None, max_length=64,
        description='{"allowed_models": [...]}: the models of the server\'s LLM_ALLOWED_MODELS '
                    "this project's .auditbot.yml may choose (others are ignored).")
    budget_monthly_usd: float | None = Field(default=None, ge=0, le=1_000_000)
    budget_per_task_usd: float | None = Field(default=None, ge=0, le=100_000)


class MemberIn(BaseModel):
    user_id: int = Field(ge=1, le=2**31 - 1)
    role: Literal["member", "viewer"] = Field(
        default="member", description="A member reads and triages findings; a viewer reads.")


class MemberOut(BaseModel):
    user_id: int
    email: str
    role: str
    created_at: datetime


def project_out(project: Project) -> ProjectOut:
    now = datetime.now(UTC)
    return ProjectOut(
        id=project.id, kind=project.kind, full_name=project.full_name,
        default_branch=project.default_branch, private=project.private, enabled=project.enabled,
        settings=project.settings or {}, budget_monthly_usd=project.budget_monthly_usd,
        budget_per_task_usd=project.budget_per_task_usd,
        installation_id=project.installation_id,
        created_at=aware(project.created_at) or now, updated_at=aware(project.updated_at) or now,
    )


async def list_projects(call: Call) -> Page[ProjectOut]:
    query: ProjectQuery = call.query
    ids = await visible_project_ids(call.session, call.me)
    where = [visible(Project.id, ids)]
    if query.kind:
        where.append(Project.kind == query.kind)
    if query.q:
        where.append(Project.full_name.ilike(f"%{like_escaped(query.q)}%", escape="\\"))
    rows, total = await page_rows(
        call.session, select(Project).where(*where).order_by(Project.full_name, Project.id), query
    )
    return Page[ProjectOut](items=[project_out(p) for p, in rows], total=total,
                            limit=query.limit, offset=query.offset)


async def get(call: Call) -> ProjectOut:
    return project_out(await get_project(call.session, call.me, call.params["project_id"]))


async def create(call: Call) -> ProjectOut:
    body: ProjectCreate = call.body
    project = Project(kind=body.kind, full_name=body.full_name,
                      default_branch=body.default_branch, settings={})
    call.session.add(project)
    await call.session.flush()
    return project_out(project)


async def update(call: Call) -> ProjectOut:
    project = await get_project(call.session, call.me, call.params["project_id"])
    if not call.me.is_admin:
        raise HTTPException(403, "only administrators change project settings")
    changes = call.body.model_dump(exclude_unset=True)
    for name in ("enabled", "default_branch", "settings"):
        if changes.get(name) is not None:
            setattr(project, name, changes[name])
    # Budgets may be set back to null (then the server-wide default applies).
    for name in ("budget_monthly_usd", "budget_per_task_usd"):
        if name in changes:
            setattr(project, name, changes[name])
    project.updated_at = datetime.now(UTC)
    await call.session.flush()
    return project_out(project)


async def remove(call: Call) -> None:
    project = await get_project(call.session, call.me, call.params["project_id"])
    if not call.me.is_admin:
        raise HTTPException(403, "only administrators delete projects")
    await call.session.delete(project)


async def list_members(call: Call) -> Page[MemberOut]:
    project = await get_project(call.session, call.me, call.params["project_id"])
    query: PageQuery = call.query
    rows, total = await page_rows(call.session, select(ProjectMember, User.email)
                                  .join(User, User.id == ProjectMember.user_id)
                                  .where(ProjectMember.project_id == project.id)
                                  .order_by(ProjectMember.user_id), query)
    return Page[MemberOut](items=[_member_out(m, email) for m, email in rows], total=total,
                           limit=query.limit, offset=query.offset)


def _member_out(member: ProjectMember, email: str) -> MemberOut:
    return MemberOut(user_id=member.user_id, email=email, role=member.role,
                     created_at=aware(member.created_at) or datetime.now(UTC))


async def add_member(call: Call) -> MemberOut:
    """Grant the project; granting it again is no error and sets the role given."""
    project = await get_project(call.session, call.me, call.params["project_id"])
    body: MemberIn = call.body
    user = await call.session.get(User, body.user_id)
    if user is None:
        raise NotFound(f"no user {body.user_id}")
    member = await call.session.get(ProjectMember, (body.user_id, project.id))
    if member is None:
        member = ProjectMember(user_id=body.user_id, project_id=project.id, role=body.role)
        call.session.add(member)
        await call.session.flush()
        await call.session.refresh(member)
    elif member.role != body.role:
        member.role = body.role
        await call.session.flush()
    return _member_out(member, user.email)


async def remove_member(call: Call) -> None:
    project = await get_project(call.session, call.me, call.params["project_id"])
    await call.session.execute(
        delete(ProjectMember).where(ProjectMember.project_id == project.id,
                                    ProjectMember.user_id == call.params["user_id"])
    )


P = "/api/v1/projects/{project_id:int}"
OPERATIONS = [
    Operation("GET", "/api/v1/projects", list_projects, "List projects", "projects",
              query=ProjectQuery, response=Page[ProjectOut]),
    Operation("POST", "/api/v1/projects", create, "Create an archive project",
              "projects", body=ProjectCreate, response=ProjectOut, status=201, admin=True),
    Operation("GET", P, get, "Get a project", "projects", response=ProjectOut),
    Operation("PATCH", P, update, "Update a project's settings and budgets", "projects",
              body=ProjectUpdate, response=ProjectOut),
    Operation("DELETE", P, remove, "Delete a project and its history", "projects"),
    Operation("GET", P + "/members", list_members, "List a project's members", "projects",
              query=PageQuery, response=Page[MemberOut]),
    Operation("POST", P + "/members", add_member, "Grant a user a project", "projects",
              body=MemberIn, response=MemberOut, status=201, admin=True),
    Operation("DELETE", P + "/members/{user_id:int}", remove_member, "Revoke a grant",
              "projects", admin=True),
]
