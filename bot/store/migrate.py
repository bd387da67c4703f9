"""Run the Alembic history without an alembic.ini, so an installed package can migrate.

The history is the repository's top-level ``migrations/`` folder, installed as the package
``bot.migrations`` (``setup.py`` maps it); it is found by import, so the same code
works from a checkout, an editable install and a wheel."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from bot.errors import AuditbotError

MIGRATIONS_PACKAGE = "bot.migrations"


def migrations_dir() -> Path:
    """Where the installed history is (a folder holding ``env.py`` and ``versions/``)."""
    spec = importlib.util.find_spec(MIGRATIONS_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        if (Path(location) / "env.py").is_file():
            return Path(location)
    raise AuditbotError(
        f"the migrations package {MIGRATIONS_PACKAGE} is missing or empty",
        hint="reinstall auditbot (pip install auditbot, or pip install -e . in a checkout)",
    )


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser interpolation would treat a '%' in a password as syntax.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to ``revision``. Synchronous: call it outside an event loop."""
    _ensure_sqlite_dir(database_url)
    # Alembic's per-step INFO lines are noise in `auditbot review` output.
    alembic_log = logging.getLogger("alembic")
    if alembic_log.getEffectiveLevel() < logging.WARNING:
        alembic_log.setLevel(logging.WARNING)
    command.upgrade(alembic_config(database_url), revision)


def _ensure_sqlite_dir(database_url: str) -> None:
    if database_url.startswith("sqlite") and ":///" in database_url:
        path = database_url.split(":///", 1)[1].split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
