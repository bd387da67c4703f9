"""Deleting one of a project's learnings from its page (the list is on the project page);
the same right as triage: administrators and members, not viewers."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.errors import NotFound
from bot.store import learnings
from bot.web.api.access import can_triage, get_project
from bot.web.pages import session as web_session
from bot.web.pages.viewer import signed_in


async def forget_learning(request: Request) -> Response:
    project_id: int = request.path_params["project_id"]
    async with request.app.state.sessions() as db:
        viewer = await signed_in(request, db)
        if viewer is None:
            raise HTTPException(401, "log in to change a project")
        await web_session.form(request, viewer.session)
        project = await get_project(db, viewer.user, project_id)
        if not await can_triage(db, viewer.user, project.id):
            raise HTTPException(403, "your role on this project is read-only")
        if not await learnings.forget(db, project.id, request.path_params["learning_id"]):
            raise NotFound("this project has no such learning")
        await db.commit()
    return RedirectResponse(f"/projects/{project_id}?notice=forgotten#learnings", 303)
