"""Opaque tokens kept in the database, stored as SHA-256 hashes: rotating refresh tokens
(a token used twice revokes its whole family) and one-time tokens (password reset,
invitation) that work once before they expire."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.signing import InvalidToken
from bot.store.models import OneTimeToken, RefreshToken

REFRESH_TTL = timedelta(days=30)
RESET_TTL = timedelta(hours=1)
INVITE_TTL = timedelta(days=7)


class TokenReused(InvalidToken):
    """A rotated refresh token came back: it was stolen or replayed; its family is revoked."""


@dataclass(frozen=True)
class Rotation:
    user_id: int
    refresh_token: str


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; stored times are UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def _find_refresh(session: AsyncSession, raw: str) -> RefreshToken | None:
    return await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash(raw))
    )


async def issue_refresh_token(
    session: AsyncSession, user_id: int, family_id: str | None = None
) -> str:
    raw = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id or secrets.token_hex(16),
            token_hash=token_hash(raw),
            expires_at=_now() + REFRESH_TTL,
        )
    )
    await session.flush()
    return raw


async def rotate_refresh_token(session: AsyncSession, raw: str) -> Rotation:
    """Spend ``raw`` and return its successor in the same family.

    The spend is one conditional UPDATE, so two concurrent uses cannot both succeed; the
    loser is treated as a reuse. Commit the session even when this raises `TokenReused`:
    the family's revocation must stick.
    """
    row = await _find_refresh(session, raw)
    if row is None:
        raise InvalidToken("unknown refresh token")
    now = _now()
    if row.revoked_at is not None or row.used_at is not None:
        await revoke_family(session, row.family_id)
        raise TokenReused("refresh token reused; every session of this login is revoked")
    if _aware(row.expires_at) <= now:
        raise InvalidToken("refresh token expired")
    spent = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        await revoke_family(session, row.family_id)
        raise TokenReused("refresh token reused; every session of this login is revoked")
    successor = await issue_refresh_token(session, row.user_id, row.family_id)
    return Rotation(user_id=row.user_id, refresh_token=successor)


async def revoke_family(session: AsyncSession, family_id: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=_now())
        .execution_options(synchronize_session=False)
    )


async def revoke_refresh_token(session: AsyncSession, raw: str) -> int | None:
    """Log out: revoke the family of ``raw``; the user id, or None for an unknown token."""
    row = await _find_refresh(session, raw)
    if row is None:
        return None
    await revoke_family(session, row.family_id)
    return row.user_id


async def revoke_all_for_user(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=_now())
        .execution_options(synchronize_session=False)
    )


async def issue_one_time_token(
    session: AsyncSession,
    purpose: str,
    *,
    ttl: timedelta,
    user_id: int | None = None,
    email: str | None = None,
    is_admin: bool = False,
) -> tuple[str, datetime]:
    raw = secrets.token_urlsafe(32)
    expires_at = _now() + ttl
    session.add(
        OneTimeToken(
            purpose=purpose,
            user_id=user_id,
            email=email,
            is_admin=is_admin,
            token_hash=token_hash(raw),
            expires_at=expires_at,
        )
    )
    await session.flush()
    return raw, expires_at


async def consume_one_time_token(session: AsyncSession, purpose: str, raw: str) -> OneTimeToken:
    """Spend a one-time token; raise `InvalidToken` if unknown, used, expired or for
    another purpose (all answered alike)."""
    row = await session.scalar(
        select(OneTimeToken).where(
            OneTimeToken.token_hash == token_hash(raw), OneTimeToken.purpose == purpose
        )
    )
    now = _now()
    if row is None or row.used_at is not None or _aware(row.expires_at) <= now:
        raise InvalidToken("the token is invalid, used or expired")
    spent = await session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.id == row.id, OneTimeToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidToken("the token is invalid, used or expired")
    return row
