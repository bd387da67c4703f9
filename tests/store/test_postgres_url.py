"""libpq's URL parameters (sslmode and friends) reach asyncpg, and whatever asyncpg could
not take is refused with one line: on a private PostgreSQL server that speaks only TLS."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from bot.config import load_settings
from bot.errors import ConfigError
from bot.postgres_url import split_postgres_url
from tests.support.postgres_server import PostgresServer, tls_postgres
from tests.support.processes import base_env

BASE = "postgresql+asyncpg://u:p@db.example.org:5432/audit"


def test_libpq_parameters_leave_the_url_for_a_dsn(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    url, args = split_postgres_url(make_url(
        f"{BASE}?sslmode=verify-full&sslrootcert={ca}&application_name=audit&connect_timeout=7"
        "&prepared_statement_cache_size=0"))
    assert url.render_as_string(hide_password=False) == f"{BASE}?prepared_statement_cache_size=0"
    assert args == {
        "dsn": f"postgresql://?sslmode=verify-full&sslrootcert={str(ca).replace('/', '%2F')}"
               "&application_name=audit",
        "timeout": 7.0,
    }


def test_a_url_without_parameters_is_left_alone() -> None:
    url, args = split_postgres_url(make_url(BASE))
    assert url.render_as_string(hide_password=False) == BASE
    assert args == {}


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("sslmod=require", "DATABASE_URL: unknown parameter 'sslmod'"),
        ("ssl=true", "DATABASE_URL: unknown parameter 'ssl'"),
        ("sslmode=required", "DATABASE_URL: sslmode 'required' is not one of disable, allow"),
        ("sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
         "DATABASE_URL: sslrootcert file '/nonexistent/ca.pem' does not exist"),
        ("sslmode=require&sslmode=disable", "DATABASE_URL: sslmode is given more than once"),
        ("connect_timeout=soon", "DATABASE_URL: connect_timeout 'soon' is not a number"),
    ],
    ids=["typo", "ssl", "bad-mode", "missing-cert", "twice", "timeout"],
)
def test_settings_refuse_what_asyncpg_could_not_take(query: str, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({"DATABASE_URL": f"postgresql://u@db.example.org/audit?{query}"},
                      env_file=None)
    assert str(refused.value).startswith(says)


def test_sslrootcert_system_is_the_os_store_not_a_file() -> None:
    settings = load_settings(
        {"DATABASE_URL": "postgres://u@db.example.org/a?sslmode=verify-full&sslrootcert=system"},
        env_file=None)
    assert settings.database_url.endswith("sslmode=verify-full&sslrootcert=system")


@pytest.fixture(scope="module")
def tls_server() -> Iterator[PostgresServer]:
    with tls_postgres() as server:
        yield server


def migrate(url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "migrate"],
                          env=base_env({"DATABASE_URL": url}), cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "query",
    ["sslmode=require", "sslmode=verify-full&sslrootcert={ca}",
     "sslmode=verify-ca&sslrootcert={ca}&application_name=auditbot-migrate"],
    ids=["require", "verify-full", "verify-ca"],
)
def test_migrate_over_tls_with_libpq_parameters(
    tls_server: PostgresServer, query: str, tmp_path: Path
) -> None:
    # Before: TypeError: connect() got an unexpected keyword argument 'sslmode'.
    result = migrate(tls_server.url(query=query.format(ca=tls_server.ca_file)), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "database at revision head" in result.stdout


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("url", "says"),
    [
        (lambda s: s.url(query=f"sslmode=verify-full&sslrootcert={s.other_ca_file}"),
         "DATABASE_URL: PostgreSQL at 127.0.0.1:{port}: its TLS certificate is not trusted"),
        (lambda s: s.url(query="sslmode=disable"),
         "DATABASE_URL: PostgreSQL at 127.0.0.1:{port} refused user 'auditor': "
         "pg_hba.conf rejects connection"),
        (lambda s: s.url(password="wrong-password-15", query="sslmode=require"),
         "DATABASE_URL: PostgreSQL at 127.0.0.1:{port} refused the password of user 'auditor'"),
    ],
    ids=["untrusted-ca", "no-tls", "wrong-password"],
)
def test_refusals_over_tls_are_one_line(
    tls_server: PostgresServer, url: object, says: str, tmp_path: Path
) -> None:
    result = migrate(url(tls_server), tmp_path)  # type: ignore[operator]
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if line.startswith("auditbot: ")]
    assert result.stderr.startswith("auditbot: " + says.format(port=tls_server.port))
    assert "wrong-password-15" not in result.stderr and "right-password-15" not in result.stderr
