"""SQLAlchemy models, engines, sessions and queries (audits, LLM usage rows).

The Alembic history lives in the repository's top-level ``migrations/`` folder and is
installed as ``bot.migrations`` (see ``pyproject.toml``); ``migrate.py`` runs it."""
