"""The wheel's packages: everything under ``bot/``, plus the Alembic history.

The history lives in the repository's top-level ``migrations/`` folder, where engineers
writing revisions look for it, and is installed as ``bot.migrations`` so that an
installed auditbot migrates without a checkout. ``pyproject.toml`` says everything else;
this mapping is the one thing it cannot (``packages.find`` does not combine with a package
taken from another folder). ``tests/test_packaging.py`` builds the wheel and migrates with it.
"""

from setuptools import find_namespace_packages, setup

MIGRATIONS = "bot.migrations"

setup(
    packages=[
        *find_namespace_packages(include=["bot", "bot.*"], exclude=["*.__pycache__"]),
        MIGRATIONS,
        f"{MIGRATIONS}.versions",
    ],
    package_dir={MIGRATIONS: "migrations"},
)
