"""Signed tokens: the rules every JWT of auditbot follows, and the report links check runs
carry (``PUBLIC_URL/reports/{task_id}?token=JWT``).

Every JWT is HS256 with ``JWT_SECRET``; decoding names the one algorithm it accepts (so
``alg: none`` and algorithm confusion are refused) and requires ``exp``, ``iat``, ``sub``,
``jti``, the issuer and the audience. Kept out of ``bot/web``: jobs sign report links, and
jobs must not import the web layer. API access tokens (``bot/web/auth.py``) use the same
rules with their own audience.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import jwt

from bot.config import Settings
from bot.errors import AuditbotError, ConfigError

ALGORITHM = "HS256"
ISSUER = "auditbot"
REPORT_AUDIENCE = "report"
REPORT_TTL = timedelta(days=90)
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "aud", "iss"]
# Small clock skew between web processes is tolerated; more is not.
LEEWAY_S = 10


class InvalidToken(AuditbotError):
    """A token is missing, malformed, signed with another key, or for another use."""


class ExpiredToken(InvalidToken):
    """A well-signed token past its expiry."""


def _key(settings: Settings) -> str:
    if settings.jwt_secret is None:
        raise ConfigError(
            "JWT_SECRET", "not set; the API and report links need it",
            hint="generate one with `openssl rand -hex 32`",
        )
    return settings.jwt_secret.get_secret_value()


def issue(settings: Settings, subject: str, audience: str, ttl: timedelta) -> str:
    """A signed token for ``subject``, valid for ``audience`` only, for ``ttl``."""
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


def decode(settings: Settings, token: str, audience: str) -> dict[str, object]:
    """The claims of a token signed by us for ``audience``; `InvalidToken` or
    `ExpiredToken` otherwise."""
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


def issue_report_token(settings: Settings, task_id: str) -> str:
    """The token of a check run's details link: opens that one task's report for 90 days."""
    return issue(settings, task_id, REPORT_AUDIENCE, REPORT_TTL)


def verify_report_token(settings: Settings, token: str, task_id: str) -> None:
    """Raise `ExpiredToken` or `InvalidToken` unless ``token`` opens ``task_id``'s report."""
    claims = decode(settings, token, REPORT_AUDIENCE)
    if not secrets.compare_digest(str(claims["sub"]), task_id):
        raise InvalidToken("the link is for another report")


def report_url(settings: Settings, task_id: str) -> str:
    """``PUBLIC_URL/reports/{task_id}?token=JWT``: the details link a check run carries."""
    base = settings.public_url.rstrip("/")
    return f"{base}/reports/{task_id}?token={issue_report_token(settings, task_id)}"
