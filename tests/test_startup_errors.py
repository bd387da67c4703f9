"""`migrate`, `serve` and `worker` end with one line naming the setting and the cause (exit 1)
when the database or Redis is stopped, refuses us, or lacks the database we name: real
PostgreSQL and Redis servers, stopped or misconfigured, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN_URL
from tests.events.private_redis import PrivateRedis, private_redis
from tests.support.postgres_server import PostgresServer, tls_postgres
from tests.support.processes import base_env

JWT = "startup-errors-jwt-secret-" + "x" * 32
PG_BASE = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]  # postgresql://postgres@127.0.0.1:5432


def run(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    args = {"worker": ["worker", "--burst"],
            "createuser": ["createuser", "--email", "admin@example.com"]}.get(command, [command])
    return subprocess.run([sys.executable, "-m", "bot", *args],
                          env=base_env({"JWT_SECRET": JWT, **env}), cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def assert_one_line(result: subprocess.CompletedProcess[str], starts: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"auditbot: {starts}"), lines[0]


@pytest.fixture
def stopped_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server that ran, then stopped: its port no longer answers."""
    with tls_postgres() as server:
        server.stop()
        yield server


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["migrate", "serve", "worker"])
def test_postgres_stopped(
    command: str, stopped_postgres: PostgresServer, redis_url: str, tmp_path: Path
) -> None:
    result = run(command, {"DATABASE_URL": stopped_postgres.url(query="sslmode=require"),
                           "REDIS_URL": redis_url}, tmp_path)
    assert_one_line(result, f"DATABASE_URL: cannot connect to PostgreSQL at "
                            f"127.0.0.1:{stopped_postgres.port}: connection refused")
    assert "right-password-15" not in result.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["migrate", "serve", "worker"])
def test_postgres_without_the_database(command: str, redis_url: str, tmp_path: Path) -> None:
    name = f"auditbot_missing_{uuid.uuid4().hex[:8]}"
    result = run(command, {"DATABASE_URL": f"{PG_BASE}/{name}", "REDIS_URL": redis_url},
                 tmp_path)
    assert_one_line(result, f"DATABASE_URL: database '{name}' does not exist on PostgreSQL at "
                            "127.0.0.1:5432 (create it with `createdb")


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["migrate", "serve", "worker", "createuser"])
def test_postgres_user_that_does_not_exist(command: str, redis_url: str, tmp_path: Path) -> None:
    url = PG_BASE.replace("postgres@", "no_such_role@", 1) + "/postgres"
    env = {"DATABASE_URL": url, "REDIS_URL": redis_url}
    if command == "createuser":
        env["AUDITBOT_PASSWORD"] = "correct horse battery"
    result = run(command, env, tmp_path)
    assert_one_line(result, "DATABASE_URL: PostgreSQL at 127.0.0.1:5432 refused user "
                            "'no_such_role': role \"no_such_role\" does not exist")


@pytest.fixture
def redis_with_password(tmp_path: Path) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path, "--requirepass", "redis-pass-15") as server:
        yield server


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_redis_stopped(command: str, sqlite_url: str, tmp_path: Path) -> None:
    with private_redis(tmp_path) as server:
        url = server.url
    result = run(command, {"DATABASE_URL": sqlite_url, "REDIS_URL": url}, tmp_path)
    assert_one_line(result, f"REDIS_URL: cannot connect to Redis at 127.0.0.1:{server.port}: "
                            "connection refused")


@pytest.mark.parametrize(
    ("password", "says"),
    [("wrong-pass-15", "refused the user or password"),
     (None, "asks for a password; REDIS_URL has none")],
    ids=["wrong-password", "no-password"],
)
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_redis_refuses_us(command: str, password: str | None, says: str, sqlite_url: str,
                          redis_with_password: PrivateRedis, tmp_path: Path) -> None:
    auth = f":{password}@" if password else ""
    url = f"redis://{auth}127.0.0.1:{redis_with_password.port}/0"
    result = run(command, {"DATABASE_URL": sqlite_url, "REDIS_URL": url}, tmp_path)
    assert_one_line(result, f"REDIS_URL: Redis at 127.0.0.1:{redis_with_password.port} {says}")
    assert "wrong-pass-15" not in result.stderr


def test_redis_without_the_database_number(sqlite_url: str, redis_url: str,
                                           tmp_path: Path) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/99"
    result = run("worker", {"DATABASE_URL": sqlite_url, "REDIS_URL": url}, tmp_path)
    assert_one_line(result, "REDIS_URL: Redis at 127.0.0.1:")
    assert "has no database 99" in result.stderr
