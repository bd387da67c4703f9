"""Is the database's schema the one this code needs? Read from Alembic's version table.

A newer schema than this code knows is fine: during a rolling upgrade the new release
migrates first while processes of the old one still run (every revision keeps the previous
release working). An older one, or none at all, is not: the code would query tables and
columns that are not there.
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass
from typing import Literal

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.migrate import alembic_config

State = Literal["current", "newer", "behind", "empty"]
MIGRATE = "run `auditbot migrate`"


@dataclass(frozen=True)
class SchemaStatus:
    state: State
    revision: str | None  # the database's; None when it has no version table
    required: str  # this code's head revision

    @property
    def usable(self) -> bool:
        return self.state in ("current", "newer")

    def describe(self) -> str:
        if self.state == "current":
            return f"schema at {self.required}"
        if self.state == "newer":
            return (f"schema at {self.revision}, newer than this code's {self.required} "
                    "(fine during a rolling upgrade)")
        if self.state == "empty":
            return f"no auditbot schema in this database: {MIGRATE}"
        return f"schema at {self.revision}, this code needs {self.required}: {MIGRATE}"


@functools.cache
def code_revisions() -> tuple[str, frozenset[str]]:
    """This code's head revision and every revision of its history (read once)."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = scripts.get_current_head()
    if head is None:
        raise RuntimeError("the migrations have no head revision")
    return head, frozenset(r.revision for r in scripts.walk_revisions())


async def schema_status(engine: AsyncEngine) -> SchemaStatus:
    """The database's schema against this code's; connection errors propagate."""
    head, known = code_revisions()
    async with engine.connect() as connection:
        revisions = await connection.run_sync(_revisions)
    if revisions is None or not revisions:
        return SchemaStatus("empty", None, head)
    if head in revisions:
        return SchemaStatus("current", head, head)
    unknown = sorted(revisions - known)
    if unknown:
        return SchemaStatus("newer", unknown[0], head)
    return SchemaStatus("behind", sorted(revisions)[-1], head)


def schema_missing(exc: BaseException) -> bool:
    """``exc`` says a table or column is not there: the schema is missing or behind."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, sqlite3.OperationalError) and (
            "no such table" in str(current) or "no such column" in str(current)
        ):
            return True
        # PostgreSQL's undefined_table and undefined_column.
        if getattr(current, "sqlstate", None) in ("42P01", "42703"):
            return True
        current = current.__cause__ or current.__context__
    return False


def _revisions(connection: Connection) -> set[str] | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return {str(r) for r in connection.execute(text("SELECT version_num FROM alembic_version"))
            .scalars()}
