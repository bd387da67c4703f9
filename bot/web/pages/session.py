"""Browser sessions and CSRF tokens for the pages.

A session is an opaque random token in an HttpOnly, SameSite=Lax cookie (Secure whenever
PUBLIC_URL is https); Redis keeps its SHA-256 with the user id and the session's CSRF token,
for 12 hours after the last page, so logging out (or a password reset) ends it at once. The
API keeps its Bearer tokens: it never reads this cookie, so it needs no CSRF defence.

Every form carries a CSRF token: a logged-in form the session's, an anonymous one (login,
register, reset) the value of a short cookie it must match (double submit). Forms also
refuse a browser that says the request comes from another site.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from redis.asyncio import Redis
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from bot.web.api.spec import read_limited

SESSION_COOKIE = "auditbot_session"
CSRF_COOKIE = "auditbot_csrf"
SESSION_TTL_S = 12 * 3600
FORM_LIMIT = 16 * 1024
_PREFIX = "auditbot:web:session:"
_USER_SESSIONS = "auditbot:web:user-sessions:"


@dataclass(frozen=True)
class WebSession:
    user_id: int
    csrf: str


def _key(token: str) -> str:
    return _PREFIX + hashlib.sha256(token.encode()).hexdigest()


def secure_cookies(connection: HTTPConnection) -> bool:
    return bool(connection.app.state.settings.public_url.startswith("https://"))


async def start(redis: Redis, response: Response, user_id: int, secure: bool) -> None:
    token = secrets.token_urlsafe(32)
    data = json.dumps({"user_id": user_id, "csrf": secrets.token_urlsafe(32)})
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(_key(token), data, ex=SESSION_TTL_S)
        pipe.sadd(_USER_SESSIONS + str(user_id), _key(token))
        pipe.expire(_USER_SESSIONS + str(user_id), SESSION_TTL_S)
        await pipe.execute()
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_TTL_S, httponly=True,
                        samesite="lax", secure=secure, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


async def current(connection: HTTPConnection) -> WebSession | None:
    """The session the cookie names, its lifetime renewed; None when absent or ended."""
    token = connection.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 128:
        return None
    redis: Redis = connection.app.state.redis
    raw = await redis.get(_key(token))
    if raw is None:
        return None
    await redis.expire(_key(token), SESSION_TTL_S)
    data = json.loads(raw)
    return WebSession(user_id=int(data["user_id"]), csrf=str(data["csrf"]))


async def end(connection: HTTPConnection, response: Response) -> None:
    token = connection.cookies.get(SESSION_COOKIE)
    if token:
        await connection.app.state.redis.delete(_key(token))
    response.delete_cookie(SESSION_COOKIE, path="/")


async def end_all(redis: Redis, user_id: int) -> None:
    """Log a user out everywhere (after a password reset)."""
    members = await redis.smembers(_USER_SESSIONS + str(user_id))  # type: ignore[misc]
    if members:
        await redis.delete(*members)
    await redis.delete(_USER_SESSIONS + str(user_id))


def anonymous_csrf(request: Request, response_cookies: dict[str, str]) -> str:
    """The token an anonymous form carries: the CSRF cookie's value, made when absent
    (``response_cookies`` collects the cookie the page's response must set)."""
    value = request.cookies.get(CSRF_COOKIE)
    if not value or len(value) > 128:
        value = secrets.token_urlsafe(24)
        response_cookies[CSRF_COOKIE] = value
    return value


def set_anonymous_csrf(response: Response, value: str, secure: bool) -> None:
    response.set_cookie(CSRF_COOKIE, value, max_age=3600, httponly=True, samesite="strict",
                        secure=secure, path="/")


async def form(request: Request, session: WebSession | None) -> dict[str, str]:
    """The posted form, after the origin and CSRF checks (403 when either fails)."""
    if not same_origin(request):
        raise HTTPException(403, "this form must be sent from auditbot's own pages")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
    raw = await read_limited(request, FORM_LIMIT)
    parsed = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    fields = {key: values[0] for key, values in parsed.items()}
    expected = session.csrf if session is not None else request.cookies.get(CSRF_COOKIE)
    sent = fields.get("csrf", "")
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        raise HTTPException(403, "the form has expired or did not come from this site; "
                                 "reload the page and try again")
    return fields


def same_origin(connection: HTTPConnection) -> bool:
    """A browser says where a request comes from (Sec-Fetch-Site, Origin); a client that
    says nothing is not a browser, and no other site can make it send one."""
    site = connection.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    own = {_origin_of(connection.app.state.settings.public_url),
           _origin_of(str(connection.base_url))}
    return origin.rstrip("/").lower() in own


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}".lower()
