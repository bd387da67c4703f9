"""Doctor's settings, database and Redis lines, against real SQLite, PostgreSQL and Redis
servers: running, stopped, never migrated, without the database, with and without
persistence."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Settings
from bot.doctor.report import Line, Status, render
from bot.doctor.services import database_lines, redis_lines, settings_lines
from bot.store.migrate import upgrade
from tests.conftest import POSTGRES_ADMIN_URL
from tests.events.private_redis import private_redis
from tests.support.servers import free_port

SettingsFactory = Callable[..., Settings]


def said(lines: list[Line]) -> list[tuple[str, str]]:
    return [(line.status.value, line.text) for line in lines]


def test_a_migrated_sqlite_database_is_ok(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    upgrade(settings.database_url)
    [line] = asyncio.run(database_lines(settings))
    assert line.status is Status.OK
    assert line.text.startswith("SQLite answers; schema at ") and line.text.endswith("(current)")


def test_an_unmigrated_database_fails_and_says_migrate(make_settings: SettingsFactory,
                                                       tmp_path: Path) -> None:
    settings = make_settings()
    [line] = asyncio.run(database_lines(settings))
    assert said([line]) == [("fail", f"the SQLite file '{tmp_path / 'auditbot.db'}' does not "
                             "exist yet")]
    assert not (tmp_path / "auditbot.db").exists()  # doctor made no empty one
    asyncio.run(_create_empty(settings.database_url))
    [line] = asyncio.run(database_lines(settings))
    assert line.status is Status.FAIL
    assert "no auditbot schema in this database: run `auditbot migrate`" in line.text


async def _create_empty(url: str) -> None:
    from bot.store.db import create_engine, ping

    engine = create_engine(url)
    await ping(engine)
    await engine.dispose()


@pytest.mark.postgres
def test_postgres_unmigrated_then_migrated(make_settings: SettingsFactory,
                                           postgres_url: str) -> None:
    settings = make_settings(DATABASE_URL=postgres_url)
    [before] = asyncio.run(database_lines(settings))
    assert before.status is Status.FAIL and before.text.startswith("PostgreSQL answers; no ")
    upgrade(settings.database_url)
    [after] = asyncio.run(database_lines(settings))
    assert after.status is Status.OK


@pytest.mark.postgres
def test_a_database_that_does_not_exist(make_settings: SettingsFactory) -> None:
    name = f"auditbot_missing_{uuid.uuid4().hex[:8]}"
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    [line] = asyncio.run(database_lines(make_settings(DATABASE_URL=f"{base}/{name}")))
    assert said([line]) == [("fail", f"DATABASE_URL: database '{name}' does not exist on "
                             f"PostgreSQL at 127.0.0.1:5432 (create it with `createdb {name}`, "
                             "or correct the name)")]


def test_postgres_where_nothing_listens(make_settings: SettingsFactory) -> None:
    port = free_port()
    settings = make_settings(DATABASE_URL=f"postgresql://audit:pw-15a@127.0.0.1:{port}/audit")
    [line] = asyncio.run(database_lines(settings))
    assert line.status is Status.FAIL
    assert line.text == (f"DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:{port}: "
                         "connection refused (is PostgreSQL running and listening there?)")


def test_redis_where_nothing_listens(make_settings: SettingsFactory) -> None:
    port = free_port()
    lines = asyncio.run(redis_lines(make_settings(REDIS_URL=f"redis://127.0.0.1:{port}/0")))
    assert said(lines) == [("fail", f"REDIS_URL: cannot connect to Redis at 127.0.0.1:{port}: "
                            "connection refused (is Redis running and listening there?)")]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((), [("ok", "answers"),
              ("warn", "no persistence (appendonly no, save ''): every queued job is lost "
                       "when Redis restarts")]),
        (("--save", "900 1"), [("ok", "answers"),
                               ("warn", "only snapshots (save '900 1'): jobs queued since the "
                                        "last one are lost when Redis restarts")]),
        (("--appendonly", "yes", "--maxmemory-policy", "allkeys-lru"),
         [("ok", "answers"), ("ok", "appendonly yes: queued jobs survive a restart"),
          ("warn", "maxmemory-policy is 'allkeys-lru': a full Redis may evict queued jobs")]),
    ],
    ids=["none", "snapshots", "aof-but-evicting"],
)
def test_redis_persistence(options: tuple[str, ...], expected: list[tuple[str, str]],
                           make_settings: SettingsFactory, tmp_path: Path) -> None:
    with private_redis(tmp_path, *options) as server:
        lines = asyncio.run(redis_lines(make_settings(REDIS_URL=server.url)))
    assert said(lines) == expected


def test_redis_that_refuses_config(make_settings: SettingsFactory, tmp_path: Path) -> None:
    # Managed Redis services rename or disable CONFIG.
    with private_redis(tmp_path, "--rename-command", "CONFIG", "") as server:
        lines = asyncio.run(redis_lines(make_settings(REDIS_URL=server.url)))
    assert [line.status for line in lines] == [Status.OK, Status.SKIP]
    assert "cannot read its persistence settings" in lines[1].text


def test_settings_lines(make_settings: SettingsFactory) -> None:
    lines = settings_lines(make_settings(JWT_SECRET="", PUBLIC_URL="http://audit.example.org"))
    assert said(lines)[1:] == [
        ("fail", "JWT_SECRET is not set: `auditbot serve` refuses to start"),
        ("warn", "PUBLIC_URL http://audit.example.org is not https: webhooks and report links "
                 "travel unencrypted"),
        ("warn", "neither GitHub (APP_ID) nor GitLab (GITLAB_TOKEN) is configured: only "
                 "`auditbot review` can audit"),
        ("ok", "no model configured: offline analyzers only"),
    ]
    assert "-> generate one with `openssl rand -hex 32`" in render(lines)
