"""The embedded SQLite default holds up with two processes writing to one file at once
(a web process and a worker): WAL mode and a busy timeout, no "database is locked"."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select, text

from bot.store.db import create_engine, session_factory
from bot.store.migrate import upgrade
from bot.store.models import AuditTask

# Each writer waits for the same start signal, then holds the write lock a few
# milliseconds per transaction, so the other one must wait on the busy timeout instead of
# finding the file free (without the wait, process start-up times decide the order).
WRITER = """
import asyncio, sys, time
from pathlib import Path
from sqlalchemy import text
from bot.store.db import create_engine, session_factory
from bot.store.models import AuditTask

async def main(url: str, name: str, count: int, go: str) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with engine.connect() as connection:  # connect (and set the pragmas) up front
        await connection.execute(text("SELECT 1"))
    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.005)
    for i in range(count):
        async with sessions() as session, session.begin():
            session.add(AuditTask(kind="review", head_ref=f"{name}-{i}"))
            await session.flush()  # takes the write lock
            await asyncio.sleep(0.003)
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
"""

WRITES_PER_PROCESS = 120


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    upgrade(url)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    go = tmp_path / "go"
    processes = {
        name: subprocess.Popen(
            [sys.executable, str(script), url, name, str(WRITES_PER_PROCESS), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("web", "worker")
    }
    for process in processes.values():
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready", process.stderr
    go.touch()
    for process in processes.values():
        _, stderr = process.communicate(timeout=90)
        assert process.returncode == 0, stderr

    async def check() -> tuple[int, str, dict[str, tuple[float, float]]]:
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            count = await session.scalar(select(func.count()).select_from(AuditTask))
            mode = (await session.execute(text("PRAGMA journal_mode"))).scalar_one()
            spans = {}
            for name in processes:
                first, last = (
                    await session.execute(
                        select(
                            func.min(AuditTask.created_at), func.max(AuditTask.created_at)
                        ).where(AuditTask.head_ref.like(f"{name}-%"))
                    )
                ).one()
                spans[name] = (first.timestamp(), last.timestamp())
        await engine.dispose()
        return int(count or 0), str(mode), spans

    count, mode, spans = asyncio.run(check())
    assert count == 2 * WRITES_PER_PROCESS
    assert mode == "wal"
    # The writes really interleaved: each process wrote while the other was writing.
    (web_first, web_last), (worker_first, worker_last) = spans["web"], spans["worker"]
    assert web_first < worker_last and worker_first < web_last, spans


def test_a_reader_is_not_blocked_by_a_writer(tmp_path: Path) -> None:
    """WAL: the web process answers reads while a worker holds the write lock."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    upgrade(url)

    async def scenario() -> float:
        writer_engine, reader_engine = create_engine(url), create_engine(url)
        writer_session = session_factory(writer_engine)()
        await writer_session.begin()
        writer_session.add(AuditTask(kind="review", head_ref="held"))
        await writer_session.flush()  # the write lock is held until the rollback below
        started = time.monotonic()
        async with session_factory(reader_engine)() as reader:
            seen = await reader.scalar(select(func.count()).select_from(AuditTask))
        waited = time.monotonic() - started
        await writer_session.rollback()
        await writer_session.close()
        await writer_engine.dispose()
        await reader_engine.dispose()
        assert seen == 0  # the uncommitted row is not visible
        return waited

    assert asyncio.run(scenario()) < 1.0
