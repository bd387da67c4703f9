"""The embedded SQLite default holds up with two processes writing to one file at once
(a web process and a worker): WAL mode and a busy timeout, no "database is locked"."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select, text

from bot.store.db import create_engine, session_factory
from bot.store.migrate import upgrade
from bot.store.models import AuditTask

WRITER = """
import asyncio, sys
from bot.store.db import create_engine, session_factory
from bot.store.models import AuditTask

async def main(url: str, name: str, count: int) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    for i in range(count):
        async with sessions() as session, session.begin():
            session.add(AuditTask(kind="review", head_ref=f"{name}-{i}"))
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""

WRITES_PER_PROCESS = 150


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    upgrade(url)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), url, name, str(WRITES_PER_PROCESS)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("web", "worker")
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=90)
        assert process.returncode == 0, stderr

    async def check() -> tuple[int, str]:
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            count = await session.scalar(select(func.count()).select_from(AuditTask))
            mode = (await session.execute(text("PRAGMA journal_mode"))).scalar_one()
        await engine.dispose()
        return int(count or 0), str(mode)

    count, mode = asyncio.run(check())
    assert count == 2 * WRITES_PER_PROCESS
    assert mode == "wal"
