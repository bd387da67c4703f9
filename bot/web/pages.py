"""Server-rendered pages: the report at `/reports/{task_id}`, login and password reset.

A report opens with the signed link a check run carries (``?token=``, audience ``report``,
that one task) or with a logged-in account (the access cookie the login page sets). An
expired or broken link leads to the login page, never an error page.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from urllib.parse import parse_qs, quote, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from redis.asyncio import Redis
from sqlalchemy import func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.signing import ExpiredToken, InvalidToken, verify_report_token
from bot.store.models import AuditTask, User
from bot.web import auth_throttle
from bot.web.api.access import ACCESS_COOKIE, bearer_token, can_see, user_from_token
from bot.web.api.accounts import create_account
from bot.web.api.reports import html_response, load_report
from bot.web.api.spec import read_limited
from bot.web.auth import (
    ACCESS_TTL,
    DUMMY_HASH,
    hash_password_async,
    issue_access_token,
    verify_password_async,
)
from bot.web.auth_tokens import consume_one_time_token, revoke_all_for_user

log = logging.getLogger(__name__)

FORM_LIMIT = 16 * 1024
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(loader=PackageLoader("bot.web", "templates"),
                       autoescape=select_autoescape(default=True))


def _page(name: str, status: int = 200, **context: object) -> HTMLResponse:
    html = _templates().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers={
        "Content-Security-Policy": PAGE_CSP, "X-Frame-Options": "DENY",
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _login_redirect(next_path: str, reason: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(next_path)}&reason={reason}", status_code=303)


def _safe_next(value: str | None) -> str:
    # Only local paths: an open redirect would turn the login page into a phishing aid.
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def report_page(request: Request) -> Response:
    task_id = request.path_params["task_id"]
    here = f"/reports/{task_id}"
    state = request.app.state
    async with state.sessions() as session:
        token = request.query_params.get("token")
        if token:
            try:
                verify_report_token(state.settings, token, task_id)
            except ExpiredToken:
                return _login_redirect(here, "expired")
            except InvalidToken:
                return _login_redirect(here, "invalid")
            task = await session.get(AuditTask, task_id)
        else:
            access = bearer_token(request, allow_cookie=True)
            if access is None:
                return _login_redirect(here, "login")
            try:
                user = await user_from_token(session, state.settings, access)
            except InvalidToken:
                return _login_redirect(here, "login")
            task = await session.get(AuditTask, task_id)
            if task is not None and not await can_see(session, user, task.project_id):
                task = None
        if task is None:
            return _page("message.html.j2", 404, title="Not found",
                         message="There is no such report, or it is not yours to see.")
        report = await load_report(session, task)
    return html_response(report)


REASONS = {
    "expired": "This report link has expired. Log in to see the report.",
    "invalid": "This report link is not valid. Log in to see the report.",
    "login": "Log in to see this page.",
    "registered": "Your account is ready. Log in.",
}


async def login_page(request: Request) -> Response:
    if request.method == "GET":
        reason = request.query_params.get("reason", "")
        return _page("login.html.j2", next=_safe_next(request.query_params.get("next")),
                     notice=REASONS.get(reason))
    form = await _form(request)
    email = form.get("email", "").strip().lower()
    password = form.get("password", "")
    next_path = _safe_next(form.get("next"))
    state = request.app.state
    redis: Redis = state.redis
    client = request.client.host if request.client else "unknown"
    wait = await auth_throttle.check(redis, email, client)
    if wait is not None:
        return _page("login.html.j2", 429, next=next_path, email=email,
                     error=f"Too many failed logins. Try again in {wait // 60 + 1} minutes.")
    async with state.sessions() as session:
        user = await session.scalar(select(User).where(func.lower(User.email) == email))
        ok = await verify_password_async(user.password_hash if user else DUMMY_HASH, password)
        if user is None or not ok or not user.is_active:
            await auth_throttle.record_failure(redis, email, client)
            return _page("login.html.j2", 401, next=next_path, email=email,
                         error="Wrong e-mail or password.")
        await auth_throttle.record_success(redis, email, client)
        token = issue_access_token(state.settings, user.id)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(ACCESS_COOKIE, token, max_age=int(ACCESS_TTL.total_seconds()),
                        httponly=True, samesite="lax",
                        secure=state.settings.public_url.startswith("https://"))
    return response


async def reset_page(request: Request) -> Response:
    if request.method == "GET":
        return _page("reset.html.j2", token=request.query_params.get("token", ""))
    form = await _form(request)
    token, password = form.get("token", ""), form.get("password", "")
    if len(password) < 10 or len(password) > 256:
        return _page("reset.html.j2", 400, token=token,
                     error="The password needs 10 to 256 characters.")
    async with request.app.state.sessions() as session:
        try:
            row = await consume_one_time_token(session, "reset", token)
        except InvalidToken:
            return _page("reset.html.j2", 400, token="",
                         error="This reset link is invalid, used or expired. Ask for a new one.")
        user = await session.get(User, row.user_id) if row.user_id else None
        if user is not None:
            user.password_hash = await hash_password_async(password)
            await revoke_all_for_user(session, user.id)
        await session.commit()
    return _page("reset.html.j2", done=True)


async def register_page(request: Request) -> Response:
    if request.method == "GET":
        return _page("register.html.j2", invitation=request.query_params.get("invitation", ""))
    form = await _form(request)
    email, password = form.get("email", "").strip(), form.get("password", "")
    invitation = form.get("invitation", "")
    if "@" not in email or not 10 <= len(password) <= 256:
        return _page("register.html.j2", 400, invitation=invitation, email=email,
                     error="Enter your e-mail address and a password of 10 to 256 characters.")
    async with request.app.state.sessions() as session:
        try:
            await create_account(session, request.app.state.settings, email=email,
                                 password=password, display_name=None,
                                 invitation=invitation or None)
        except HTTPException as exc:
            return _page("register.html.j2", exc.status_code, invitation=invitation,
                         email=email, error=exc.detail[:1].upper() + exc.detail[1:] + ".")
        await session.commit()
    return RedirectResponse("/login?reason=registered", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    if not _same_origin(request):
        # Login CSRF: another site's form would log the visitor into an account of its
        # choosing (the cookie is SameSite=Lax, but a response may still set it).
        raise HTTPException(403, "this form must be sent from auditbot's own pages")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
    raw = await read_limited(request, FORM_LIMIT)
    parsed = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items()}


def _same_origin(request: Request) -> bool:
    """A browser says where a form comes from (Sec-Fetch-Site, Origin); a client that says
    nothing is not a browser, and no other site can make it send a form."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = {_origin_of(request.app.state.settings.public_url), _origin_of(str(request.base_url))}
    return origin.rstrip("/").lower() in own


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def page_routes() -> list[BaseRoute]:
    return [
        Route("/reports/{task_id}", report_page, methods=["GET"]),
        Route("/login", login_page, methods=["GET", "POST"]),
        Route("/reset-password", reset_page, methods=["GET", "POST"]),
        Route("/register", register_page, methods=["GET", "POST"]),
    ]
