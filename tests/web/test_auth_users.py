"""`auditbot createuser`: the first administrator of a new server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.store.db import create_engine, session_factory
from bot.store.migrate import upgrade
from bot.store.models import User
from bot.web.auth import verify_password


async def _users(url: str) -> list[User]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return list(await session.scalars(select(User).order_by(User.id)))
    finally:
        await engine.dispose()


def test_createuser_makes_an_admin_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("AUDITBOT_PASSWORD", "first admin passphrase")
    runner = CliRunner()
    made = runner.invoke(main, ["createuser", "--email", "Admin@Example.com", "--admin"])
    assert made.exit_code == 0, made.output
    assert "created administrator admin@example.com" in made.output
    users = asyncio.run(_users(url))
    assert [(u.email, u.is_admin) for u in users] == [("admin@example.com", True)]
    assert users[0].password_hash.startswith("$argon2id$")
    assert verify_password(users[0].password_hash, "first admin passphrase")
    again = runner.invoke(main, ["createuser", "--email", "admin@example.com"])
    assert again.exit_code == 2
    assert "exists" in again.output
    short = runner.invoke(main, ["createuser", "--email", "b@example.com",
                                 "--password", "short"])
    assert short.exit_code == 2
    assert "at least 10 characters" in short.output
