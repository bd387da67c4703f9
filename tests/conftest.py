"""Fixtures shared by every test: real Redis, real SQLite and PostgreSQL, settings factories.

Fixtures are factories that clean up what they made.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis as sync_redis

from bot.config import Settings, load_settings

REDIS_HOST = os.environ.get("TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("TEST_REDIS_PORT", "6379"))


def redis_db_for_worker(base: int, worker: int, databases: int = 16) -> int:
    """The Redis database pytest-xdist worker ``worker`` owns: ``base`` and up to the last
    database, then down from ``base - 1``; never database 0 (the app's default)."""
    above = databases - base
    db = base + worker if worker < above else base - 1 - (worker - above)
    if not 0 < db < databases:
        raise pytest.UsageError(
            f"no Redis database left for xdist worker {worker} (databases 1-{databases - 1}; "
            "run fewer workers or set TEST_REDIS_DATABASES to the server's 'databases')"
        )
    return db


# Tests own one Redis database number and empty it around each test that uses it; under
# pytest-xdist each worker owns its own: TEST_REDIS_DB (default 13), 14, 15, then 12, 11, ...
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or "0"
TEST_REDIS_DB = redis_db_for_worker(
    int(os.environ.get("TEST_REDIS_DB", "13")),
    int(_XDIST_WORKER),
    int(os.environ.get("TEST_REDIS_DATABASES", "16")),
)
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis database, emptied before and after the test."""
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{TEST_REDIS_DB}"
    client = sync_redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'auditbot.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database made for this test and dropped after it."""
    name = f"auditbot_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _postgres_admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def make_settings(tmp_path: Path, sqlite_url: str) -> Callable[..., Settings]:
    """Settings from an explicit environment: nothing leaks in from the developer's shell."""

    def factory(**env: str) -> Settings:
        base = {
            "DATABASE_URL": sqlite_url,
            "REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{TEST_REDIS_DB}",
            "DATA_DIR": str(tmp_path / "data"),
            "JWT_SECRET": "test-jwt-secret-" + "x" * 32,
        }
        base.update(env)
        return load_settings(base, env_file=None)

    return factory
