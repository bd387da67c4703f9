"""Does the database answer, does Redis? One line naming the setting and the cause when not.

`auditbot migrate`, `serve` and `worker` run these checks before they start, so that a wrong
host, user, password, database name or TLS mode ends the process with that line (exit 1)
instead of a driver's traceback; `auditbot doctor` prints the same lines. Errors that are not
about reaching the service are not translated here: they stay what they are.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import ssl
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import asyncpg
from redis import exceptions as redis_errors
from redis.asyncio import Redis
from sqlalchemy import make_url
from sqlalchemy.engine import URL

from bot.errors import Unavailable
from bot.store.db import create_engine, ping

DATABASE_TIMEOUT_S = 10.0
REDIS_TIMEOUT_S = 5.0
# aiosqlite's worker thread reports a failed connect on the loop after the caller has the
# error; a loop closed by then makes it print a stray traceback (aiosqlite 0.22).
SQLITE_SETTLE_S = 0.05


async def check_database(database_url: str, *, timeout_s: float = DATABASE_TIMEOUT_S) -> None:
    """Return when the database answers ``SELECT 1``; raise Unavailable otherwise."""
    engine = create_engine(database_url)
    try:
        await asyncio.wait_for(ping(engine), timeout_s)
    except Exception as exc:
        problem = database_problem(exc, database_url, timeout_s=timeout_s)
        if problem is None:
            raise
        raise problem from exc
    finally:
        await engine.dispose()
        if database_url.startswith("sqlite"):
            await asyncio.sleep(SQLITE_SETTLE_S)


async def check_redis(redis_url: str, *, timeout_s: float = REDIS_TIMEOUT_S) -> None:
    """Return when Redis answers PING (after AUTH and SELECT); raise Unavailable otherwise."""
    client = Redis.from_url(redis_url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        await asyncio.wait_for(client.ping(), timeout_s + 1)
    except Exception as exc:
        problem = redis_problem(exc, redis_url, timeout_s=timeout_s)
        if problem is None:
            raise
        raise problem from exc
    finally:
        await client.aclose()


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _find(
    exc: BaseException, *types: type[BaseException], text: str | None = None
) -> BaseException | None:
    """The first exception in ``exc``'s chain of one of ``types`` (with ``text`` in it)."""
    for cause in _chain(exc):
        if isinstance(cause, types) and (text is None or text in str(cause)):
            return cause
    return None


def _where(url: URL, default_port: int) -> str:
    return f"{url.host or 'localhost'}:{url.port or default_port}"


def database_problem(
    exc: BaseException, database_url: str, *, timeout_s: float = DATABASE_TIMEOUT_S
) -> Unavailable | None:
    """The one-line reason ``exc`` means the database cannot be used; None if it is not that."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if _find(exc, sqlite3.OperationalError, text="unable to open"):
            return Unavailable(
                "DATABASE_URL",
                f"cannot open the SQLite file {url.database!r}: its folder is missing or "
                "not writable",
            )
        if isinstance(folder := _find(exc, OSError), OSError):  # `migrate` making the folder
            return Unavailable(
                "DATABASE_URL",
                f"cannot make the folder of the SQLite file {url.database!r}: "
                f"{folder.strerror or folder}",
            )
        return None
    where = f"PostgreSQL at {_where(url, 5432)}"
    user, database = url.username or "(the current user)", url.database or url.username
    # Most specific first: a driver error wraps the socket error that caused it.
    cause: BaseException | None
    if _find(exc, asyncpg.InvalidPasswordError):
        return Unavailable("DATABASE_URL", f"{where} refused the password of user {user!r}")
    if cause := _find(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return Unavailable("DATABASE_URL", f"{where} refused user {user!r}: {cause}")
    if _find(exc, asyncpg.InvalidCatalogNameError):
        return Unavailable(
            "DATABASE_URL",
            f"database {database!r} does not exist on {where}",
            hint=f"create it with `createdb {database}`, or correct the name",
        )
    if isinstance(cert := _find(exc, ssl.SSLCertVerificationError), ssl.SSLCertVerificationError):
        return Unavailable(
            "DATABASE_URL",
            f"{where}: its TLS certificate is not trusted ({cert.verify_message})",
            hint="check sslrootcert, or the host name for sslmode=verify-full",
        )
    if cause := _find(exc, ssl.SSLError):
        return Unavailable("DATABASE_URL", f"{where}: TLS failed ({cause})")
    if _find(exc, socket.gaierror):
        return Unavailable("DATABASE_URL", f"cannot resolve the host {url.host!r}")
    if _find(exc, ConnectionRefusedError):
        return Unavailable(
            "DATABASE_URL", f"cannot connect to {where}: connection refused",
            hint="is PostgreSQL running and listening there?",
        )
    if _find(exc, TimeoutError):
        return Unavailable("DATABASE_URL", f"no answer from {where} within {timeout_s:g} s")
    if _find(exc, ConnectionError, text="SSL"):
        # asyncpg: "PostgreSQL server at ... rejected SSL upgrade".
        mode = url.query.get("sslmode", "require")
        return Unavailable(
            "DATABASE_URL", f"{where} does not offer TLS, and sslmode={mode} needs it"
        )
    if cause := _find(exc, ConnectionError, OSError):
        return Unavailable("DATABASE_URL", f"cannot connect to {where}: {cause}")
    cause = _find(exc, asyncpg.PostgresError)
    if cause is not None and str(getattr(cause, "sqlstate", ""))[:2] in {
        "08",  # connection exception
        "28",  # invalid authorization (pg_hba.conf has no entry for us)
        "3D",  # invalid catalog name
        "53",  # insufficient resources: too many connections
        "57",  # operator intervention: the server is shutting down or starting up
    }:
        return Unavailable("DATABASE_URL", f"{where} refused the connection: {cause}")
    return None


def redis_problem(
    exc: BaseException, redis_url: str, *, timeout_s: float = REDIS_TIMEOUT_S
) -> Unavailable | None:
    """The one-line reason ``exc`` means Redis cannot be used; None if it is not that."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        where = f"Redis at {parts.path}"
    else:
        where = f"Redis at {parts.hostname or 'localhost'}:{parts.port or 6379}"
    cause: BaseException | None
    if cause := _find(exc, redis_errors.AuthenticationError):
        if "required" in str(cause).lower():
            return Unavailable("REDIS_URL", f"{where} asks for a password; REDIS_URL has none",
                               hint="redis://:PASSWORD@host:port/db")
        return Unavailable("REDIS_URL", f"{where} refused the user or password ({cause})")
    if cause := _find(exc, redis_errors.ResponseError, text="DB index"):
        database = parts.path.strip("/") or parse_qs(parts.query).get("db", ["0"])[0]
        return Unavailable("REDIS_URL", f"{where} has no database {database} ({cause})")
    if _find(exc, socket.gaierror):
        return Unavailable("REDIS_URL", f"cannot resolve the host {parts.hostname!r}")
    if _find(exc, ConnectionRefusedError):
        return Unavailable("REDIS_URL", f"cannot connect to {where}: connection refused",
                           hint="is Redis running and listening there?")
    if _find(exc, TimeoutError, redis_errors.TimeoutError):
        hint = "rediss:// needs a port that speaks TLS" if parts.scheme == "rediss" else None
        return Unavailable("REDIS_URL", f"no answer from {where} within {timeout_s:g} s",
                           hint=hint)
    if cause := _find(exc, redis_errors.ConnectionError, OSError):
        return Unavailable("REDIS_URL", f"cannot connect to {where}: {cause}")
    return None
