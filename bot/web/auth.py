"""Passwords and signed tokens: API access tokens and the report links check runs carry.

Every JWT is HS256 with ``JWT_SECRET``; decoding names the one algorithm it accepts (so
``alg: none`` and algorithm confusion are refused) and requires ``exp``, ``iat``, ``sub``,
``jti`` and the audience. Refresh and one-time tokens are opaque and live in the database
(`bot/web/auth_tokens.py`).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.config import Settings
from bot.errors import AuditbotError, ConfigError

ALGORITHM = "HS256"
ISSUER = "auditbot"
ACCESS_AUDIENCE = "api"
REPORT_AUDIENCE = "report"
ACCESS_TTL = timedelta(minutes=15)
REPORT_TTL = timedelta(days=90)
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "aud", "iss"]
# Small clock skew between web processes is tolerated; more is not.
LEEWAY_S = 10

_hasher = PasswordHasher()


class InvalidToken(AuditbotError):
    """A token is missing, malformed, signed with another key, or for another use."""


class ExpiredToken(InvalidToken):
    """A well-signed token past its expiry."""


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


def _key(settings: Settings) -> str:
    if settings.jwt_secret is None:
        raise ConfigError(
            "JWT_SECRET", "not set; the API and report links need it",
            hint="generate one with `openssl rand -hex 32`",
        )
    return settings.jwt_secret.get_secret_value()


def _issue(settings: Settings, subject: str, audience: str, ttl: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": audience,
        "sub": subject,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": secrets.token_hex(16),
    }
    return jwt.encode(claims, _key(settings), algorithm=ALGORITHM)


def _decode(settings: Settings, token: str, audience: str) -> dict[str, object]:
    try:
        claims: dict[str, object] = jwt.decode(
            token,
            _key(settings),
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            leeway=LEEWAY_S,
            options={"require": REQUIRED_CLAIMS, "verify_iat": True},
        )
    except jwt.ExpiredSignatureError as exc:
        raise ExpiredToken("the token has expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"the token is not valid: {type(exc).__name__}") from exc
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("jti"), str):
        raise InvalidToken("the token's sub and jti must be strings")
    return claims


def issue_access_token(settings: Settings, user_id: int) -> str:
    """A short-lived API token; roles are read from the database on each request."""
    return _issue(settings, str(user_id), ACCESS_AUDIENCE, ACCESS_TTL)


def verify_access_token(settings: Settings, token: str) -> AccessClaims:
    claims = _decode(settings, token, ACCESS_AUDIENCE)
    subject = str(claims["sub"])
    if not subject.isdigit():
        raise InvalidToken("the token's subject is not a user")
    return AccessClaims(
        user_id=int(subject),
        jti=str(claims["jti"]),
        expires_at=datetime.fromtimestamp(int(str(claims["exp"])), UTC),
    )


def issue_report_token(settings: Settings, task_id: str) -> str:
    """The token of a check run's details link: opens that one task's report for 90 days."""
    return _issue(settings, task_id, REPORT_AUDIENCE, REPORT_TTL)


def verify_report_token(settings: Settings, token: str, task_id: str) -> None:
    """Raise `ExpiredToken` or `InvalidToken` unless ``token`` opens ``task_id``'s report."""
    claims = _decode(settings, token, REPORT_AUDIENCE)
    if not secrets.compare_digest(str(claims["sub"]), task_id):
        raise InvalidToken("the link is for another report")


def report_url(settings: Settings, task_id: str) -> str:
    """``PUBLIC_URL/reports/{task_id}?token=JWT``: the details link a check run carries."""
    base = settings.public_url.rstrip("/")
    return f"{base}/reports/{task_id}?token={issue_report_token(settings, task_id)}"
