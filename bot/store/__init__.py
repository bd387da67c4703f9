"""SQLAlchemy models, engines and sessions; `migrations/` holds the Alembic history."""
