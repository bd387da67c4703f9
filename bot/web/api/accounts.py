"""Accounts: login, refresh, logout, me, registration by invitation, password reset, users."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from arq.connections import ArqRedis
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from bot.config import Settings
from bot.mail import send_mail
from bot.signing import InvalidToken
from bot.store.models import User
from bot.web import auth_throttle
from bot.web.api.access import visible_project_ids
from bot.web.api.paging import page_rows
from bot.web.api.schemas import Accepted, Page, PageQuery, Text, UserOut, aware
from bot.web.api.spec import Call, Operation
from bot.web.auth import (
    ACCESS_TTL,
    DUMMY_HASH,
    hash_password_async,
    issue_access_token,
    verify_password_async,
)
from bot.web.auth_tokens import (
    INVITE_TTL,
    RESET_TTL,
    TokenReused,
    consume_one_time_token,
    issue_one_time_token,
    issue_refresh_token,
    revoke_all_for_user,
    revoke_refresh_token,
    rotate_refresh_token,
)

log = logging.getLogger(__name__)

Password = Field(min_length=10, max_length=256)
# A light check: the mail server is the judge of an address; this only catches typos.
EmailStr = Annotated[str, Field(pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$", max_length=320)]


class LoginIn(BaseModel):
    email: EmailStr
    password: str = Field(max_length=256)


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int = int(ACCESS_TTL.total_seconds())


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=256)


class RegisterIn(BaseModel):
    email: EmailStr
    password: str = Password
    display_name: Text | None = Field(default=None, max_length=255)
    invitation: str | None = Field(default=None, max_length=256)


class InviteIn(BaseModel):
    email: EmailStr
    is_admin: bool = False


class InvitationOut(BaseModel):
    email: str
    is_admin: bool
    token: str
    url: str
    expires_at: datetime


class ResetRequestIn(BaseModel):
    email: EmailStr


class ResetConfirmIn(BaseModel):
    token: str = Field(min_length=1, max_length=256)
    password: str = Password


class UserUpdate(BaseModel):
    display_name: Text | None = Field(default=None, max_length=255)
    is_admin: bool | None = None
    is_active: bool | None = None


async def user_out(call: Call, user: User) -> UserOut:
    ids = await visible_project_ids(call.session, user)
    return UserOut(
        id=user.id, email=user.email, display_name=user.display_name, is_admin=user.is_admin,
        is_active=user.is_active, created_at=aware(user.created_at) or datetime.now(UTC),
        last_login_at=aware(user.last_login_at),
        project_ids=None if ids is None else sorted(ids),
    )


def _client(call: Call) -> str:
    return call.request.client.host if call.request.client else "unknown"


async def login(call: Call) -> TokensOut | JSONResponse:
    body: LoginIn = call.body
    email = body.email.lower()
    wait = await auth_throttle.check(call.redis, email, _client(call))
    if wait is not None:
        raise HTTPException(429, "too many failed logins; try again later",
                            headers={"Retry-After": str(wait)})
    user = await call.session.scalar(select(User).where(func.lower(User.email) == email))
    # Verify against a dummy hash for unknown addresses, so timing does not tell them apart.
    ok = await verify_password_async(user.password_hash if user else DUMMY_HASH, body.password)
    if user is None or not ok or not user.is_active:
        await auth_throttle.record_failure(call.redis, email, _client(call))
        raise HTTPException(401, "wrong e-mail or password")
    await auth_throttle.record_success(call.redis, email, _client(call))
    user.last_login_at = datetime.now(UTC)
    refresh = await issue_refresh_token(call.session, user.id)
    return TokensOut(access_token=issue_access_token(call.settings, user.id), refresh_token=refresh)


async def refresh(call: Call) -> TokensOut:
    try:
        rotation = await rotate_refresh_token(call.session, call.body.refresh_token)
    except TokenReused:
        await call.session.commit()  # the family's revocation must stick
        log.warning("refresh token reused; family revoked")
        raise HTTPException(401, "the refresh token was already used; log in again") from None
    except InvalidToken:
        raise HTTPException(401, "the refresh token is invalid or expired") from None
    user = await call.session.get(User, rotation.user_id)
    if user is None or not user.is_active:
        raise HTTPException(401, "the account does not exist or is disabled")
    return TokensOut(access_token=issue_access_token(call.settings, user.id),
                     refresh_token=rotation.refresh_token)


async def logout(call: Call) -> None:
    owner = await revoke_refresh_token(call.session, call.body.refresh_token)
    if owner is not None and owner != call.me.id:
        await call.session.rollback()  # not the caller's session: leave it alone


async def me(call: Call) -> UserOut:
    return await user_out(call, call.me)


async def register(call: Call) -> UserOut:
    body: RegisterIn = call.body
    user = await create_account(call.session, call.settings, email=body.email,
                                password=body.password, display_name=body.display_name,
                                invitation=body.invitation)
    return await user_out(call, user)


async def create_account(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    password: str,
    display_name: str | None,
    invitation: str | None,
) -> User:
    """Register by invitation (or openly, as a member, when OPEN_REGISTRATION is on);
    raises HTTPException 403/409. Shared by the API and the /register page."""
    email = email.lower()
    is_admin = False
    if invitation:
        try:
            invite = await consume_one_time_token(session, "invite", invitation)
        except InvalidToken:
            raise HTTPException(403, "the invitation is invalid, used or expired") from None
        if invite.email and invite.email.lower() != email:
            raise HTTPException(403, "the invitation is for another address")
        is_admin = invite.is_admin
    elif not settings.open_registration:
        raise HTTPException(403, "registration needs an invitation from an administrator")
    taken = await session.scalar(select(User.id).where(func.lower(User.email) == email))
    if taken is not None:
        raise HTTPException(409, "an account with this address exists")
    user = User(email=email, display_name=display_name,
                password_hash=await hash_password_async(password), is_admin=is_admin)
    session.add(user)
    await session.flush()
    return user


async def invite(call: Call) -> InvitationOut:
    body: InviteIn = call.body
    email = body.email.lower()
    token, expires_at = await issue_one_time_token(
        call.session, "invite", ttl=INVITE_TTL, email=email, is_admin=body.is_admin
    )
    url = f"{call.settings.public_url.rstrip('/')}/register?invitation={token}"
    return InvitationOut(email=email, is_admin=body.is_admin, token=token, url=url,
                         expires_at=expires_at)


async def request_reset(call: Call) -> JSONResponse:
    """Answer at once, the same for every address; the account is looked up afterwards.

    Looking the address up before answering would make an existing account's answer a
    few milliseconds slower (the throttle, the token row): enough to tell which
    addresses have accounts. So the answer waits on nothing that depends on the address.
    """
    email = call.body.email.lower()
    task = None
    if call.settings.smtp_url:
        sessions: async_sessionmaker[AsyncSession] = call.request.app.state.sessions
        task = BackgroundTask(_mail_reset_link, sessions, call.redis, call.settings, email)
    else:
        log.warning("password reset asked but SMTP_URL is not set; no mail sent")
    answer = Accepted(detail="if the address has an account, a reset link was sent to it")
    return JSONResponse(answer.model_dump(), status_code=202, background=task)


async def _mail_reset_link(sessions: async_sessionmaker[AsyncSession], redis: ArqRedis,
                           settings: Settings, email: str) -> None:
    """After the answer: a token and a mail for an active account, within the mail limit."""
    try:
        async with sessions() as session, session.begin():
            user = await session.scalar(select(User).where(func.lower(User.email) == email))
            if user is None or not user.is_active:
                return
            if not await auth_throttle.allow_reset_mail(redis, email):
                return
            token, _ = await issue_one_time_token(session, "reset", ttl=RESET_TTL,
                                                  user_id=user.id)
            to = user.email
        link = f"{settings.public_url.rstrip('/')}/reset-password?token={token}"
        body = (f"Someone asked to reset the auditbot password of {to}.\n\n"
                f"Open this link within an hour to choose a new one:\n{link}\n\n"
                f"Reset token: {token}\n\nIf it was not you, ignore this message.\n")
        assert settings.smtp_url is not None  # scheduled only when it is set
        await send_mail(settings.smtp_url, to, "auditbot password reset", body)
    except Exception as exc:  # noqa: BLE001 - the answer is sent; log and move on
        log.error("could not send the reset mail: %s", exc)


async def confirm_reset(call: Call) -> None:
    body: ResetConfirmIn = call.body
    try:
        token = await consume_one_time_token(call.session, "reset", body.token)
    except InvalidToken:
        raise HTTPException(400, "the reset token is invalid, used or expired") from None
    user = await call.session.get(User, token.user_id) if token.user_id else None
    if user is None:
        raise HTTPException(400, "the reset token is invalid, used or expired")
    user.password_hash = await hash_password_async(body.password)
    await revoke_all_for_user(call.session, user.id)


async def list_users(call: Call) -> Page[UserOut]:
    query: PageQuery = call.query
    rows, total = await page_rows(call.session, select(User).order_by(User.id), query)
    items = [await user_out(call, user) for user, in rows]
    return Page[UserOut](items=items, total=total, limit=query.limit, offset=query.offset)


async def update_user(call: Call) -> UserOut:
    user = await call.session.get(User, call.params["user_id"])
    if user is None:
        raise HTTPException(404, "no such user")
    changes = call.body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is not None:
            setattr(user, name, value)
    if changes.get("is_active") is False:
        await revoke_all_for_user(call.session, user.id)
    await call.session.flush()
    return await user_out(call, user)


OPERATIONS = [
    Operation("POST", "/api/v1/auth/login", login, "Log in", "auth", body=LoginIn,
              response=TokensOut, auth=False, extra_statuses=(401, 429)),
    Operation("POST", "/api/v1/auth/refresh", refresh, "Rotate a refresh token", "auth",
              body=RefreshIn, response=TokensOut, auth=False, extra_statuses=(401,)),
    Operation("POST", "/api/v1/auth/logout", logout, "Log out (revoke the refresh token)",
              "auth", body=RefreshIn),
    Operation("GET", "/api/v1/auth/me", me, "The current user", "auth", response=UserOut),
    Operation("POST", "/api/v1/auth/register", register, "Register (by invitation)", "auth",
              body=RegisterIn, response=UserOut, status=201, auth=False,
              extra_statuses=(403, 409)),
    Operation("POST", "/api/v1/auth/password-reset", request_reset, "Ask for a reset mail",
              "auth", body=ResetRequestIn, response=Accepted, status=202, auth=False),
    Operation("POST", "/api/v1/auth/password-reset/confirm", confirm_reset,
              "Set a new password with a reset token", "auth", body=ResetConfirmIn, auth=False),
    Operation("POST", "/api/v1/invitations", invite, "Invite a user", "users", body=InviteIn,
              response=InvitationOut, status=201, admin=True),
    Operation("GET", "/api/v1/users", list_users, "List users", "users", query=PageQuery,
              response=Page[UserOut], admin=True),
    Operation("PATCH", "/api/v1/users/{user_id:int}", update_user, "Update a user", "users",
              body=UserUpdate, response=UserOut, admin=True),
]
