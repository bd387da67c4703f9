"""The settings themselves, the database (reachable, schema current) and Redis (reachable,
and whether it keeps queued jobs through a restart)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import make_url

from bot.config import Settings
from bot.doctor.report import Line, fail, ok, skip, warn
from bot.errors import ConfigError, Unavailable
from bot.llm.factory import default_model
from bot.preflight import REDIS_TIMEOUT_S, check_database, check_redis
from bot.store.db import create_engine
from bot.store.schema import schema_status

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
PRODUCTION = "see the README's production section"


def settings_lines(settings: Settings) -> list[Line]:
    """What the settings say before anything is reached (they loaded, so each is valid)."""
    lines = [ok("settings", "read from the environment and .env; each one is valid")]
    if settings.jwt_secret is None:
        lines.append(fail("settings", "JWT_SECRET is not set: `auditbot serve` refuses to start",
                          hint="generate one with `openssl rand -hex 32`"))
    public = urlsplit(settings.public_url)
    if public.hostname in LOCAL_HOSTS:
        lines.append(warn(
            "settings", f"PUBLIC_URL is {settings.public_url}: GitHub and GitLab cannot deliver "
            "webhooks there, and report links in checks point to this machine",
            hint="set PUBLIC_URL to the https:// address auditbot is reached at"))
    elif public.scheme != "https":
        lines.append(warn("settings", f"PUBLIC_URL {settings.public_url} is not https: "
                          "webhooks and report links travel unencrypted",
                          hint=f"put TLS in front of `auditbot serve` ({PRODUCTION})"))
    if not settings.github_enabled and not settings.gitlab_enabled:
        lines.append(warn("settings", "neither GitHub (APP_ID) nor GitLab (GITLAB_TOKEN) is "
                          "configured: only `auditbot review` can audit",
                          hint="run `auditbot setup` to register the GitHub App"))
    provider = settings.chosen_provider()
    if provider is None:
        lines.append(ok("settings", "no model configured: offline analyzers only"))
    else:
        try:
            lines.append(ok("settings", f"model: {provider} {default_model(provider, settings)}"))
        except ConfigError as exc:
            lines.append(fail("settings", str(exc)))
    return lines


async def database_lines(settings: Settings) -> list[Line]:
    missing = _missing_sqlite_file(settings.database_url)
    if missing is not None:
        # Connecting would create an empty file: say what is missing instead.
        return [fail("database", f"the SQLite file {missing!r} does not exist yet",
                     hint="run `auditbot migrate` (in the folder auditbot runs in)")]
    try:
        await check_database(settings.database_url)
    except Unavailable as exc:
        return [fail("database", str(exc))]
    engine = create_engine(settings.database_url)
    try:
        status = await schema_status(engine)
    finally:
        await engine.dispose()
    kind = "SQLite" if settings.database_url.startswith("sqlite") else "PostgreSQL"
    if status.state == "current":
        return [ok("database", f"{kind} answers; schema at {status.required} (current)")]
    if status.state == "newer":
        return [warn("database", f"{kind} answers; {status.describe()}",
                     hint="upgrade this host's auditbot to the release that migrated")]
    return [fail("database", f"{kind} answers; {status.describe()}",
                 hint="/readyz answers 503 and the API cannot work until then")]


def _missing_sqlite_file(database_url: str) -> str | None:
    url = make_url(database_url)
    name = url.database
    if url.get_backend_name() != "sqlite" or name in (None, "", ":memory:"):
        return None
    return None if Path(name).exists() else name


async def redis_lines(settings: Settings) -> list[Line]:
    try:
        await check_redis(settings.redis_url)
    except Unavailable as exc:
        return [fail("redis", str(exc))]
    lines = [ok("redis", "answers")]
    client = Redis.from_url(settings.redis_url, socket_timeout=REDIS_TIMEOUT_S,
                            decode_responses=True)
    try:
        names = ("appendonly", "save", "maxmemory-policy")
        # One name per CONFIG GET: Redis before 7 takes one pattern.
        replies = await asyncio.wait_for(
            asyncio.gather(*(client.config_get(name) for name in names)), REDIS_TIMEOUT_S)
        appendonly, save, policy = (r.get(n) for r, n in zip(replies, names, strict=True))
    except (RedisError, OSError, TimeoutError) as exc:
        # Managed Redis services often refuse CONFIG.
        return [*lines, skip("redis", f"cannot read its persistence settings ({exc}); check "
                             "appendonly and maxmemory-policy with your provider")]
    finally:
        await client.aclose()
    if appendonly == "yes":
        lines.append(ok("redis", "appendonly yes: queued jobs survive a restart"))
    elif save:
        lines.append(warn("redis", f"only snapshots (save {save!r}): jobs queued since the "
                          "last one are lost when Redis restarts",
                          hint=f"set `appendonly yes` ({PRODUCTION})"))
    else:
        lines.append(warn("redis", "no persistence (appendonly no, save ''): every queued job "
                          "is lost when Redis restarts",
                          hint=f"set `appendonly yes` ({PRODUCTION})"))
    if policy != "noeviction":
        lines.append(warn("redis", f"maxmemory-policy is {policy!r}: a full Redis may evict "
                          "queued jobs", hint="set `maxmemory-policy noeviction`"))
    return lines
