"""arq worker settings. Clients are built in ``on_startup`` into ``ctx`` and closed in
``on_shutdown``; job modules add their functions to ``FUNCTIONS`` and ``CRON_JOBS``."""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from arq import cron
from arq.connections import RedisSettings

from bot.config import Settings, load_settings
from bot.logs import setup_logging
from bot.store.db import create_engine, session_factory

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "auditbot:workers"


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Record this worker as alive; `/readyz` and the statistics read the set."""
    await ctx["redis"].zadd(HEARTBEAT_KEY, {ctx["worker_name"]: time.time()})


async def on_startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or load_settings()
    ctx["settings"] = settings
    ctx["engine"] = create_engine(settings.database_url)
    ctx["sessions"] = session_factory(ctx["engine"])
    ctx["worker_name"] = f"{socket.gethostname()}:{os.getpid()}"
    await heartbeat(ctx)
    log.info("worker %s started", ctx["worker_name"])


async def on_shutdown(ctx: dict[str, Any]) -> None:
    await ctx["redis"].zrem(HEARTBEAT_KEY, ctx["worker_name"])
    await ctx["engine"].dispose()


FUNCTIONS: list[Any] = []
CRON_JOBS: list[Any] = [cron(heartbeat, second={0, 30}, run_at_startup=False)]


def worker_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``arq.worker.Worker`` built from our settings."""
    setup_logging(settings.log_level, settings.log_format)
    return {
        "functions": FUNCTIONS,
        "cron_jobs": CRON_JOBS,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "ctx": {"settings": settings},
        "job_timeout": settings.job_timeout_s,
        "max_tries": 5,
        "keep_result": 3600,
        "handle_signals": True,
    }
