"""Passwords and API access tokens.

Access tokens are JWTs that follow the rules of ``bot/signing.py`` (which also signs the
report links check runs carry) with their own audience. Refresh and one-time tokens are
opaque and live in the database (`bot/web/auth_tokens.py`).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.config import Settings
from bot.signing import InvalidToken, decode, issue

ACCESS_AUDIENCE = "api"
ACCESS_TTL = timedelta(minutes=15)

_hasher = PasswordHasher()


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    jti: str
    expires_at: datetime


# Passwords ---------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop.
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


# A hash to verify against when the e-mail is unknown, so both cases take as long.
DUMMY_HASH = hash_password(secrets.token_hex(16))


# JWTs --------------------------------------------------------------------------------------


def issue_access_token(settings: Settings, user_id: int) -> str:
    """A short-lived API token; roles are read from the database on each request."""
    return issue(settings, str(user_id), ACCESS_AUDIENCE, ACCESS_TTL)


def verify_access_token(settings: Settings, token: str) -> AccessClaims:
    claims = decode(settings, token, ACCESS_AUDIENCE)
    subject = str(claims["sub"])
    if not subject.isdigit():
        raise InvalidToken("the token's subject is not a user")
    return AccessClaims(
        user_id=int(subject),
        jti=str(claims["jti"]),
        expires_at=datetime.fromtimestamp(int(str(claims["exp"])), UTC),
    )
