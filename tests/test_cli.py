"""The `auditbot` command line as deployments use it: help, `serve --dev`, `migrate` on both
databases, a worker without Redis, and the Procfile that calls it."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
import httpx
import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from bot.cli import main
from bot.store.db import create_engine
from bot.store.migrate import alembic_config
from tests.support.processes import Process, base_env
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=base_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.parametrize(
    ("command", "explains"),
    [
        ("serve", "Run the web process"),
        ("worker", "Run an arq worker"),
        ("migrate", "Create or upgrade the database schema"),
        ("review", "Audit a local git change"),
        ("providers", "List the LLM provider presets"),
        ("createuser", "Create an account"),
    ],
)
def test_help_explains_each_command(command: str, explains: str) -> None:
    listing = CliRunner().invoke(main, ["--help"])
    assert listing.exit_code == 0 and command in listing.output
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert explains in " ".join(result.output.split())


def test_serve_dev_generates_a_jwt_secret_and_says_so(tmp_path: Path, redis_url: str) -> None:
    port = free_port()
    env = base_env(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'auditbot.db'}",
            "DATA_DIR": str(tmp_path / "data"),
            "REDIS_URL": redis_url,
        }
    )
    process = Process("web", ["serve", "--dev", "--port", str(port)], env, tmp_path)
    try:
        deadline = time.monotonic() + 60
        answer = None
        while answer is None and time.monotonic() < deadline:
            assert process.popen.poll() is None, process.log()
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answer is not None, process.log()
        assert answer.json() == {"status": "ok"}
        assert "--dev generated a JWT_SECRET for this session only" in process.log()
    finally:
        process.stop()


def _children(pid: int) -> set[int]:
    """The live (not zombie) processes whose parent is ``pid``, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _two_web_processes(process: Process) -> list[int]:
    """The PIDs of the two web processes of `serve --workers 2`, once both serve."""
    deadline = time.monotonic() + 120
    # uvicorn logs this line in each process that serves, once its app is built.
    while process.log().count("Application startup complete") < 2:
        assert process.popen.poll() is None, process.log()
        assert time.monotonic() < deadline, process.log()
        time.sleep(0.2)
    workers = sorted({int(pid) for pid in re.findall(r"Started server process \[(\d+)\]",
                                                     process.log())})
    assert len(workers) == 2, process.log()
    return workers


def test_serve_with_two_workers_runs_two_processes_that_answer_and_stop_together(
    tmp_path: Path, redis_url: str
) -> None:
    """`--workers 2`: two web processes under the one started, each answering on the port
    while the other is paused, with the same settings (a token one issued, the other
    accepts: --dev's generated JWT_SECRET reached both); SIGTERM to the parent ends all."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'auditbot.db'}"
    env = {"DATABASE_URL": database, "DATA_DIR": str(tmp_path / "data"), "REDIS_URL": redis_url}
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    made = run_cli("createuser", "--email", "ops@example.com", "--password", "workers-pass-1",
                   env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = Process("web", ["serve", "--dev", "--workers", "2", "--port", str(port)],
                      base_env(env), tmp_path)
    paused: int | None = None
    try:
        workers = _two_web_processes(process)
        children = _children(process.popen.pid)  # and multiprocessing's resource tracker
        assert set(workers) <= children, (workers, children, process.log())
        login = httpx.post(f"{url}/api/v1/auth/login", timeout=10,
                           json={"email": "ops@example.com", "password": "workers-pass-1"})
        assert login.status_code == 200, login.text
        bearer = {"authorization": f"Bearer {login.json()['access_token']}"}
        # Paused, a process cannot take a connection from the shared socket: the other
        # answers. Briefly: uvicorn replaces a process that misses its 5 s health check.
        for pid in sorted(workers):
            os.kill(pid, signal.SIGSTOP)
            paused = pid
            try:
                me = httpx.get(f"{url}/api/v1/auth/me", headers=bearer, timeout=3)
            finally:
                os.kill(pid, signal.SIGCONT)
                paused = None
            assert me.status_code == 200, (pid, me.text)
            assert me.json()["email"] == "ops@example.com"
        os.kill(process.popen.pid, signal.SIGTERM)  # as a supervisor stops it: the parent only
        assert process.popen.wait(timeout=30) == 0, process.log()
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in children), process.log()
    finally:
        if paused is not None:
            os.kill(paused, signal.SIGCONT)
        process.stop()


def _scrape(url: str) -> dict[str, list[float]]:
    """The samples of one scrape of /metrics on a new connection, by name and labels."""
    answer = httpx.get(f"{url}/metrics", timeout=5, headers={"connection": "close"})
    assert answer.status_code == 200, answer.text
    samples: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            key = sample.name + repr(sorted(sample.labels.items()))
            samples.setdefault(key, []).append(sample.value)
    return samples


def test_serve_with_two_workers_serves_the_sum_of_both_on_every_scrape(
    tmp_path: Path, redis_url: str
) -> None:
    """`--workers 2`: requests answered by either process count once in /metrics, whichever
    process takes the scrape (prometheus_client's multiprocess mode, in a folder serve
    makes and removes); the queue's gauges, read from Redis, appear once, not per process."""
    temp = tmp_path / "tmp"  # where serve makes its folder (TMPDIR), empty once it stops
    temp.mkdir()
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'auditbot.db'}",
           "DATA_DIR": str(tmp_path / "data"), "REDIS_URL": redis_url, "TMPDIR": str(temp)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = Process("web", ["serve", "--dev", "--workers", "2", "--port", str(port)],
                      base_env(env), tmp_path)
    paused: int | None = None
    each = 7  # requests answered by each process
    try:
        workers = _two_web_processes(process)

        def with_only(answering: int, call: Callable[[], T]) -> T:
            """``call`` while the other process is paused (briefly: uvicorn replaces a
            process that misses its 5 s health check), so ``answering`` takes it."""
            nonlocal paused
            other = next(pid for pid in workers if pid != answering)
            os.kill(other, signal.SIGSTOP)
            paused = other
            try:
                return call()
            finally:
                os.kill(other, signal.SIGCONT)
                paused = None

        def health_checks() -> None:
            for _ in range(each):  # a new connection each
                answer = httpx.get(f"{url}/healthz", timeout=3, headers={"connection": "close"})
                assert answer.status_code == 200, answer.text

        for pid in workers:
            with_only(pid, health_checks)
        served = "auditbot_http_requests_total" + repr(
            sorted({"route": "/healthz", "method": "GET", "status": "200"}.items()))
        timed = "auditbot_http_request_duration_seconds_count" + repr([("route", "/healthz")])
        scrapes = [with_only(pid, lambda: _scrape(url)) for pid in workers * 2]
        scrapes += [_scrape(url) for _ in range(4)]
        for scrape in scrapes:
            assert scrape.get(served) == [2 * each], scrape.get(served)
            assert scrape.get(timed) == [2 * each], scrape.get(timed)
            assert scrape.get("auditbot_queue_depth[]") == [0], scrape.get("auditbot_queue_depth[]")
            assert len(scrape.get("auditbot_gitlab_hooks_disabled[]", [])) == 1
        made = [p.name for p in temp.iterdir()]
        assert [name[:17] for name in made] == ["auditbot-metrics-"], made
        os.kill(process.popen.pid, signal.SIGTERM)  # as a supervisor stops it: the parent only
        assert process.popen.wait(timeout=30) == 0, process.log()
        assert list(temp.iterdir()) == [], process.log()
    finally:
        if paused is not None:
            os.kill(paused, signal.SIGCONT)
        process.stop()


def _revision_in(database_url: str) -> str:
    async def read() -> str:
        engine = create_engine(database_url)
        async with engine.connect() as connection:
            version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
        await engine.dispose()
        return str(version)

    return asyncio.run(read())


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def test_migrate_upgrades_sqlite_to_head(tmp_path: Path) -> None:
    # A relative path in a directory that does not exist yet, as on a fresh clone.
    result = run_cli("migrate", env={"DATABASE_URL": "sqlite:///var/auditbot.db"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "database at revision head" in result.stdout
    assert _revision_in(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'auditbot.db'}") == _head()


@pytest.mark.postgres
def test_migrate_upgrades_postgres_to_head(postgres_url: str, tmp_path: Path) -> None:
    # The spelling platforms hand out (postgres://), normalised by the settings.
    plain = postgres_url.replace("postgresql+asyncpg://", "postgres://", 1)
    result = run_cli("migrate", env={"DATABASE_URL": plain}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _revision_in(postgres_url) == _head()


def test_worker_without_redis_ends_with_one_line_not_a_traceback(tmp_path: Path) -> None:
    url = f"redis://:worker-pass-1234@127.0.0.1:{free_port()}/0"
    result = run_cli(
        "worker",
        "--burst",
        env={
            "REDIS_URL": url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'auditbot.db'}",
        },
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("auditbot: REDIS_URL: cannot connect to Redis at 127.0.0.1:")
    assert "worker-pass-1234" not in result.stderr


def test_procfile_runs_auditbot_commands_that_exist() -> None:
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        processes[name.strip()] = shlex.split(command)
    assert set(processes) == {"web", "worker", "release"}
    assert processes["release"][:2] == ["auditbot", "migrate"]
    assert processes["worker"][:2] == ["auditbot", "worker"]
    assert processes["web"][:2] == ["auditbot", "serve"]
    for argv in processes.values():
        # --help parses every option before it: a misspelt one would fail here.
        result = CliRunner().invoke(main, [*argv[1:], "--help"])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http"])
def test_serve_port_is_range_checked_like_the_port_setting(port: str) -> None:
    result = CliRunner().invoke(main, ["serve", "--port", port])
    assert result.exit_code == 2
    assert "Invalid value for '--port'" in result.output
    assert "Traceback" not in result.output


def test_serve_port_bounds_are_the_port_settings() -> None:
    from annotated_types import Ge, Le

    from bot.config import Settings

    option = next(p for p in main.commands["serve"].params if p.name == "port")
    assert isinstance(option.type, click.IntRange)
    bounds = {type(m): m for m in Settings.model_fields["port"].metadata}
    assert (option.type.min, option.type.max) == (bounds[Ge].ge, bounds[Le].le)


def test_worker_with_a_missing_multiprocess_folder_ends_with_one_line(
    tmp_path: Path, redis_url: str
) -> None:
    missing = tmp_path / "no-such-folder"
    result = run_cli(
        "worker",
        "--metrics-port", str(free_port()),
        env={
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'auditbot.db'}",
            "REDIS_URL": redis_url,
            "PROMETHEUS_MULTIPROC_DIR": str(missing),
        },
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"auditbot: invalid setting PROMETHEUS_MULTIPROC_DIR: {str(missing)!r} is not a "
        "directory (create it, empty, before the workers start)"
    )
