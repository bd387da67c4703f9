"""Errors as pages for browsers: the layout with its navigation, the status, and what to do,
instead of a problem-details JSON body a person cannot use."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from bot.web.pages.render import page
from bot.web.pages.viewer import Viewer, signed_in

log = logging.getLogger(__name__)

FRIENDLY = {
    404: "There is no such page, or it is not yours to see.",
    405: "This page cannot be opened that way.",
}


async def render_error(request: Request, status: int, title: str, detail: str | None) -> Response:
    viewer: Viewer | None = None
    if status not in (500, 503):  # the error may be the database's: do not ask it again
        try:
            async with request.app.state.sessions() as db:
                viewer = await signed_in(request, db)
        except Exception:
            log.warning("could not tell who sees the error page", exc_info=True)
    message = FRIENDLY.get(status) if status in FRIENDLY else None
    text = message or (detail[:1].upper() + detail[1:] if detail else title)
    if not text.endswith((".", "!", "?")):
        text += "."
    return page(request, "message.html.j2", viewer, status, title=title, message=text)
