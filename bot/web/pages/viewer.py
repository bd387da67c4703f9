"""Who is looking at a page: the account behind the session cookie, if any."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse

from bot.store.models import User
from bot.web.pages import session as web_session


@dataclass(frozen=True)
class Viewer:
    user: User
    session: web_session.WebSession

    @property
    def csrf(self) -> str:
        return self.session.csrf


async def signed_in(connection: HTTPConnection, db: AsyncSession) -> Viewer | None:
    """The logged-in, active account, or None."""
    found = await web_session.current(connection)
    if found is None:
        return None
    user = await db.get(User, found.user_id)
    if user is None or not user.is_active:
        return None
    return Viewer(user, found)


def to_login(next_path: str, reason: str = "login") -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(next_path)}&reason={reason}", status_code=303)
