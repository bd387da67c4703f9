"""A project's learnings: the notes auditbot made from dismissals with reasons, shown to the
model in later reviews of matching paths (bot.store.learnings). Everyone who sees the project
reads them; those who may triage delete them."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from starlette.exceptions import HTTPException

from bot.errors import NotFound
from bot.store import learnings
from bot.web.api.access import can_triage, get_project
from bot.web.api.schemas import aware
from bot.web.api.spec import Call, Operation


class LearningOut(BaseModel):
    id: int
    path_glob: str
    text: str
    source: str
    actor: str
    created_at: datetime


class LearningList(BaseModel):
    items: list[LearningOut]


async def list_learnings(call: Call) -> LearningList:
    project = await get_project(call.session, call.me, call.params["project_id"])
    notes = await learnings.project_learnings(call.session, project.id)
    now = datetime.now(UTC)
    return LearningList(items=[
        LearningOut(id=n.id, path_glob=n.path_glob, text=n.text, source=n.source,
                    actor=n.actor, created_at=aware(n.created_at) or now)
        for n in notes
    ])


async def delete_learning(call: Call) -> None:
    project = await get_project(call.session, call.me, call.params["project_id"])
    if not await can_triage(call.session, call.me, project.id):
        raise HTTPException(403, "your role on this project is read-only")
    if not await learnings.forget(call.session, project.id, call.params["learning_id"]):
        raise NotFound("this project has no such learning")


P = "/api/v1/projects/{project_id:int}/learnings"
OPERATIONS = [
    Operation("GET", P, list_learnings, "A project's learnings from dismissals, newest first",
              "projects", response=LearningList),
    Operation("DELETE", P + "/{learning_id:int}", delete_learning,
              "Delete a learning (later reviews no longer show it)", "projects",
              extra_statuses=(403,)),
]
