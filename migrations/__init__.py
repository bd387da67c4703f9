"""Alembic's history of the database schema, installed as ``bot.migrations``.

``bot/store/migrate.py`` runs it (``auditbot migrate``); ``alembic.ini`` at the repository root
points here for engineers writing revisions (``alembic revision --autogenerate -m "..."``).
"""
