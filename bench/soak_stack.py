"""The soak benchmark's processes and watchers: `auditbot serve` and two `auditbot worker`s
under a small supervisor (a worker that dies is started again 2 s later, as systemd or
Kubernetes would; one that exits on its own is also recorded), a PostgreSQL database of its
own on the shared server, a watcher that notes when each check run appears and when it is
concluded, and a sampler of the processes' resident memory."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.soak_faults import RESTART_AFTER_S
from tests.fakes.fake_github import FakeGitHub
from tests.support.processes import Process, start_web, start_worker

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
WORKERS = ("worker-1", "worker-2")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of its own on the shared server (TEST_POSTGRES_URL), dropped afterwards;
    yields its SQLAlchemy URL."""
    name = f"auditbot_soak_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def active_tasks(database: str) -> dict[str, int]:
    """Tasks still queued or running, by status."""
    async def query() -> dict[str, int]:
        connection = await asyncpg.connect(database.replace("+asyncpg", "", 1))
        try:
            rows = await connection.fetch(
                "SELECT status, count(*) AS n FROM audit_tasks "
                "WHERE status IN ('queued', 'running') GROUP BY status")
            return {row["status"]: row["n"] for row in rows}
        finally:
            await connection.close()
    return asyncio.run(query())


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Exit:
    name: str
    code: int | None
    at: float
    log_tail: str


# What AuditWorker logs when it stops taking jobs after WORKER_MAX_JOBS (bot/jobs/runner.py).
RETIRE_LINE = "(WORKER_MAX_JOBS): finishing them, then exiting"


def planned_exit(code: int | None, log: str) -> bool:
    """A worker that retired after WORKER_MAX_JOBS: exit 0 after its retire line. Any other
    exit (a crash, exit 1 after a Redis outage past its bound, 0 without the line) is not."""
    return code == 0 and RETIRE_LINE in log


@dataclass
class Fleet:
    env: dict[str, str]
    logs: Path
    web_url: str = ""
    processes: dict[str, Process] = field(default_factory=dict)  # slot -> current process
    exits: list[Exit] = field(default_factory=list)  # exits nobody asked for
    retirements: list[Exit] = field(default_factory=list)  # clean exits after WORKER_MAX_JOBS
    kills: list[tuple[str, float]] = field(default_factory=list)
    starts: dict[str, int] = field(default_factory=dict)  # slot -> how many times started
    _planned: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        web, self.web_url = start_web(self.env, self.logs)
        self.processes["web"] = web
        self.starts["web"] = 1
        for slot in WORKERS:
            self._start_worker(slot)
        threading.Thread(target=self._supervise, daemon=True).start()

    def _start_worker(self, slot: str) -> None:
        current = self.processes.get(slot)
        if current is not None and current.popen.poll() is None:
            return  # a planned kill and a restart after an exit can race: one process a slot
        count = self.starts.get(slot, 0) + 1
        self.starts[slot] = count
        name = slot if count == 1 else f"{slot}.{count}"
        self.processes[slot] = start_worker(self.env, self.logs, name=name)

    def kill(self, slot: str) -> None:
        """SIGKILL, then the supervisor's restart after RESTART_AFTER_S."""
        with self._lock:
            self._planned.add(slot)
            self.processes[slot].kill()
            self.kills.append((slot, time.time()))
        time.sleep(RESTART_AFTER_S)
        with self._lock:
            self._start_worker(slot)
            self._planned.discard(slot)

    def _supervise(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                for slot, process in list(self.processes.items()):
                    code = process.popen.poll()
                    if code is None or slot in self._planned or slot == "web":
                        continue
                    log = process.log()
                    ended = Exit(process.name, code, time.time(), log[-3000:])
                    (self.retirements if planned_exit(code, log) else self.exits).append(ended)
                    self._planned.add(slot)
                    threading.Thread(target=self._restart_later, args=(slot,), daemon=True).start()
            web = self.processes["web"]
            code = web.popen.poll()
            if code is not None and not any(e.name == "web" for e in self.exits):
                self.exits.append(Exit("web", code, time.time(), web.log()[-3000:]))

    def _restart_later(self, slot: str) -> None:
        time.sleep(RESTART_AFTER_S)
        with self._lock:
            if not self._stop.is_set():
                self._start_worker(slot)
            self._planned.discard(slot)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            for process in self.processes.values():
                process.stop()


class _Poller:
    """Calls ``look`` every ``every_s`` seconds in a thread of its own, and once more when
    stopped."""

    def __init__(self, every_s: float) -> None:
        self._every = every_s
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def look(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.look()

    def stop(self) -> None:
        self._stop.set()
        self.look()


class CheckWatch(_Poller):
    """When each check run of the fake GitHub was first seen and first seen concluded."""

    def __init__(self, github: FakeGitHub, every_s: float = 0.5) -> None:
        self.github = github
        self.created: dict[int, float] = {}
        self.concluded: dict[int, float] = {}
        super().__init__(every_s)

    def look(self) -> None:
        now = time.time()
        for check_id, run in list(self.github.check_runs.items()):
            self.created.setdefault(check_id, now)
            if run.get("status") == "completed":
                self.concluded.setdefault(check_id, now)


class MemorySampler(_Poller):
    """Resident memory of each process every ``every_s`` seconds: (seconds since start,
    slot, pid, MB)."""

    def __init__(self, fleet: Fleet, every_s: float = 5.0) -> None:
        self.fleet = fleet
        self.started = time.time()
        self.samples: list[tuple[float, str, int, float]] = []
        super().__init__(every_s)

    def look(self) -> None:
        now = time.time() - self.started
        for slot, process in list(self.fleet.processes.items()):
            mb = rss_mb(process.popen.pid)
            if mb is not None:
                self.samples.append((now, slot, process.popen.pid, mb))
