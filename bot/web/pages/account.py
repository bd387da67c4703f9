"""Logging in and out, password reset and registration: the pages around an account."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.signing import InvalidToken
from bot.store.models import User
from bot.web import auth_throttle
from bot.web.api.accounts import create_account
from bot.web.auth import DUMMY_HASH, hash_password_async, verify_password_async
from bot.web.auth_tokens import consume_one_time_token, revoke_all_for_user
from bot.web.pages import session as web_session
from bot.web.pages.render import page
from bot.web.pages.viewer import signed_in

REASONS = {
    "expired": "This report link has expired. Log in to see the report.",
    "invalid": "This report link is not valid. Log in to see the report.",
    "login": "Log in to see this page.",
    "registered": "Your account is ready. Log in.",
    "logged-out": "You are logged out.",
}
MIN_PASSWORD, MAX_PASSWORD = 10, 256


def safe_next(value: str | None) -> str:
    # Only local paths: an open redirect would turn the login page into a phishing aid.
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def login_page(request: Request) -> Response:
    if request.method == "GET":
        async with request.app.state.sessions() as db:
            viewer = await signed_in(request, db)
        if viewer is not None:  # already logged in: straight on
            return RedirectResponse(safe_next(request.query_params.get("next")), 303)
        reason = request.query_params.get("reason", "")
        return page(request, "login.html.j2", None,
                    next=safe_next(request.query_params.get("next")), notice=REASONS.get(reason))
    form = await web_session.form(request, None)
    email = form.get("email", "").strip().lower()
    password = form.get("password", "")
    next_path = safe_next(form.get("next"))
    state = request.app.state
    redis: Redis = state.redis
    client = request.client.host if request.client else "unknown"
    wait = await auth_throttle.check(redis, email, client)
    if wait is not None:
        return page(request, "login.html.j2", None, 429, next=next_path, email=email,
                    error=f"Too many failed logins. Try again in {wait // 60 + 1} minutes.")
    async with state.sessions() as db:
        user = await db.scalar(select(User).where(func.lower(User.email) == email))
        ok = await verify_password_async(user.password_hash if user else DUMMY_HASH, password)
        if user is None or not ok or not user.is_active:
            await auth_throttle.record_failure(redis, email, client)
            return page(request, "login.html.j2", None, 401, next=next_path, email=email,
                        error="Wrong e-mail or password.")
        await auth_throttle.record_success(redis, email, client)
        user_id = user.id
    response = RedirectResponse(next_path, status_code=303)
    await web_session.start(redis, response, user_id, web_session.secure_cookies(request))
    return response


async def logout(request: Request) -> Response:
    async with request.app.state.sessions() as db:
        viewer = await signed_in(request, db)
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    await web_session.form(request, viewer.session)
    response = RedirectResponse("/login?reason=logged-out", status_code=303)
    await web_session.end(request, response)
    return response


async def reset_page(request: Request) -> Response:
    if request.method == "GET":
        return page(request, "reset.html.j2", None, token=request.query_params.get("token", ""))
    form = await web_session.form(request, None)
    token, password = form.get("token", ""), form.get("password", "")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return page(request, "reset.html.j2", None, 400, token=token,
                    error="The password needs 10 to 256 characters.")
    async with request.app.state.sessions() as db:
        try:
            row = await consume_one_time_token(db, "reset", token)
        except InvalidToken:
            return page(request, "reset.html.j2", None, 400, token="",
                        error="This reset link is invalid, used or expired. Ask for a new one.")
        user = await db.get(User, row.user_id) if row.user_id else None
        if user is not None:
            user.password_hash = await hash_password_async(password)
            await revoke_all_for_user(db, user.id)
            await web_session.end_all(request.app.state.redis, user.id)
        await db.commit()
    return page(request, "reset.html.j2", None, done=True)


async def register_page(request: Request) -> Response:
    if request.method == "GET":
        return page(request, "register.html.j2", None,
                    invitation=request.query_params.get("invitation", ""))
    form = await web_session.form(request, None)
    email, password = form.get("email", "").strip(), form.get("password", "")
    invitation = form.get("invitation", "")
    if "@" not in email or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return page(request, "register.html.j2", None, 400, invitation=invitation, email=email,
                    error="Enter your e-mail address and a password of 10 to 256 characters.")
    async with request.app.state.sessions() as db:
        try:
            await create_account(db, request.app.state.settings, email=email,
                                 password=password, display_name=None,
                                 invitation=invitation or None)
        except HTTPException as exc:
            return page(request, "register.html.j2", None, exc.status_code,
                        invitation=invitation, email=email,
                        error=exc.detail[:1].upper() + exc.detail[1:] + ".")
        await db.commit()
    return RedirectResponse("/login?reason=registered", status_code=303)
