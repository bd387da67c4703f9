"""arq worker settings. Clients are built in ``on_startup`` into ``ctx`` and closed in
``on_shutdown``: the database engine, the forge factory, the LLM service (with its usage
records written to the database), all handed to jobs as one ``JobDeps``."""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from arq import cron
from arq.connections import RedisSettings

from bot.config import Settings, load_settings
from bot.errors import AuditbotError
from bot.forges.github.app_hooks import AppHooks
from bot.jobs.alerts import code_scanning_alert, sync_code_scanning
from bot.jobs.commands import run_command
from bot.jobs.contracts import APP_SLUG_KEY
from bot.jobs.deps import JobDeps
from bot.jobs.forge_factory import build_forge_factory
from bot.jobs.installations import sync_installation
from bot.jobs.lifecycle import conclude_check
from bot.jobs.metrics import measured
from bot.jobs.reconcile import reconcile
from bot.jobs.redis_checks import warn_if_redis_may_lose_jobs
from bot.jobs.retry import MAX_TRIES, retry_policy
from bot.jobs.review import review_pull_request
from bot.jobs.scans import scan_archive, scan_push, scan_repository
from bot.jobs.threads import reply_in_thread
from bot.llm.service import build_llm_service
from bot.logs import setup_logging
from bot.store.db import create_engine, session_factory
from bot.store.llm_usage import DbUsageSink

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "auditbot:workers"


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Record this worker as alive; statistics read the set."""
    await ctx["redis"].zadd(HEARTBEAT_KEY, {ctx["worker_name"]: time.time()})


async def on_startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or load_settings()
    if settings.github_enabled and not settings.app_slug:
        slug = await learn_app_slug(settings, ctx["redis"])
        if slug is not None:  # our bot's login and the command mention, for every job
            settings = settings.model_copy(update={"app_slug": slug})
    ctx["settings"] = settings
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    ctx["engine"] = engine
    llm = build_llm_service(settings, ctx["redis"], sink=DbUsageSink(sessions))
    ctx["deps"] = JobDeps(
        settings=settings,
        sessions=sessions,
        redis=ctx["redis"],
        forges=build_forge_factory(settings, ctx["redis"]),
        llm=llm,
    )
    ctx["worker_name"] = f"{socket.gethostname()}:{os.getpid()}"
    await warn_if_redis_may_lose_jobs(ctx["redis"])
    await heartbeat(ctx)
    log.info(
        "worker %s started (LLM: %s)",
        ctx["worker_name"],
        f"{llm.provider}/{llm.model}" if llm is not None else "offline analyzers only",
    )


async def learn_app_slug(settings: Settings, redis: Any) -> str | None:
    """APP_SLUG unset: ask GitHub (GET /app) and leave the slug where the web process
    looks for it, so `@slug` commands and our own bot's events are recognised."""
    try:
        slug = await AppHooks.from_settings(settings).slug()
    except AuditbotError as exc:
        log.warning("could not read the GitHub App's slug; set APP_SLUG: %s", exc)
        return None
    await redis.set(APP_SLUG_KEY, slug)
    log.info("GitHub App slug: %s", slug)
    return slug


async def on_shutdown(ctx: dict[str, Any]) -> None:
    # Also runs after a failed on_startup: clean up only what was made, so the real
    # start-up error is the one reported.
    name = ctx.get("worker_name")
    if name is not None:
        await ctx["redis"].zrem(HEARTBEAT_KEY, name)
    deps: JobDeps | None = ctx.get("deps")
    if deps is not None and deps.llm is not None:
        await deps.llm.aclose()
    engine = ctx.get("engine")
    if engine is not None:
        await engine.dispose()


# Every job runs under the one retry policy (retry.py): "try later" becomes arq's Retry,
# giving up or a refusal concludes the task's check run honestly. Outside it, each try is
# counted by how it ended (metrics.py).
FUNCTIONS: list[Any] = [
    measured(retry_policy(function))
    for function in (
        review_pull_request,
        scan_push,
        scan_repository,
        scan_archive,
        run_command,
        sync_installation,
        reply_in_thread,
        code_scanning_alert,
        conclude_check,
    )
]
CRON_JOBS: list[Any] = [
    cron(heartbeat, second={0, 30}, run_at_startup=False),
    # Every minute: a check run left open by a failed update is concluded within about two.
    cron(reconcile, second={45}, run_at_startup=True),
    # Triage decisions reach GitHub code scanning within a minute.
    cron(sync_code_scanning, second={15}, run_at_startup=False),
]


def worker_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``runner.AuditWorker`` built from our settings."""
    setup_logging(settings.log_level, settings.log_format)
    return {
        "functions": FUNCTIONS,
        "cron_jobs": CRON_JOBS,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "ctx": {"settings": settings},
        "job_timeout": settings.job_timeout_s,
        "max_tries": MAX_TRIES,  # the retry policy gives up on the last try itself
        "keep_result": 3600,
        # Lets `/audit cancel`, the API and a superseding push stop a running job.
        "allow_abort_jobs": True,
        "handle_signals": True,
        # runner.AuditWorker's own: jobs held on a renewed lease, ride out Redis outages,
        # retire after N jobs.
        "job_lease_s": settings.job_lease_s,
        "redis_outage_limit_s": settings.redis_outage_limit_s,
        "max_jobs_total": settings.worker_max_jobs,
    }
