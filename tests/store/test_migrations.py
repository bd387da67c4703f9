"""The Alembic history builds exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.store.db import create_engine
from bot.store.migrate import upgrade
from bot.store.models import Base


def _differences(database_url: str) -> tuple[list[object], set[str]]:
    async def run() -> tuple[list[object], set[str]]:
        engine = create_engine(database_url)

        def compare(connection: Connection) -> tuple[list[object], set[str]]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata), set(
                inspect(connection).get_table_names()
            )

        async with engine.connect() as connection:
            result = await connection.run_sync(compare)
        await engine.dispose()
        return result

    return asyncio.run(run())


def test_migrations_match_models_on_sqlite(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    diff, tables = _differences(sqlite_url)
    assert diff == []
    assert set(Base.metadata.tables) <= tables


@pytest.mark.postgres
def test_migrations_match_models_on_postgres(postgres_url: str) -> None:
    upgrade(postgres_url)
    diff, tables = _differences(postgres_url)
    assert diff == []
    assert set(Base.metadata.tables) <= tables


def test_upgrade_is_idempotent(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    upgrade(sqlite_url)
    diff, _ = _differences(sqlite_url)
    assert diff == []
