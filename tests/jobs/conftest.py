"""Jobs run in-process with a real context: SQLite, Redis, the GitHub adapter against the
fake GitHub. The arq functions are called exactly as the worker calls them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.config import Settings
from bot.jobs.deps import JobDeps
from bot.jobs.forge_factory import build_forge_factory
from bot.store.db import create_engine, session_factory
from bot.store.migrate import upgrade
from tests.forges.conftest import APP_ID, INSTALLATION, app_keys, fake_github, github_url

__all__ = ["INSTALLATION", "app_keys", "fake_github", "github_url"]


@pytest.fixture
async def deps(
    make_settings: Callable[..., Settings],
    app_keys: tuple[str, str],
    github_url: str,
    redis_url: str,
    tmp_path: Path,
) -> AsyncIterator[JobDeps]:
    settings = make_settings(
        APP_ID=str(APP_ID),
        PRIVATE_KEY=app_keys[0],
        WEBHOOK_SECRET="s",
        GITHUB_API_URL=github_url,
        GITHUB_WRITE_SPACING_S="0",
        APP_SLUG="auditbot",
        DATA_DIR=str(tmp_path / "data"),
        REDIS_URL=redis_url,
        JOB_TIMEOUT_S="60",
    )
    async with job_deps(settings, redis_url) as made:
        yield made


@contextlib.asynccontextmanager
async def job_deps(settings: Settings, redis_url: str) -> AsyncIterator[JobDeps]:
    """What the worker's on_startup builds, for ``settings``: a migrated database, Redis,
    the forge factory; no model (tests give one when they need it)."""
    await asyncio.to_thread(upgrade, settings.database_url)
    engine = create_engine(settings.database_url)
    redis = Redis.from_url(redis_url)
    yield JobDeps(
        settings=settings,
        sessions=session_factory(engine),
        redis=redis,
        forges=build_forge_factory(settings, redis),
        llm=None,
    )
    await redis.aclose()
    await engine.dispose()


def ctx_of(deps: JobDeps, job_id: str) -> dict[str, Any]:
    return {"deps": deps, "job_id": job_id, "job_try": 1, "redis": deps.redis}
