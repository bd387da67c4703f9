"""The built wheel carries the whole package and the Alembic history: installed into a fresh
venv, away from the checkout, `auditbot migrate` creates the schema.

The history lives in the top-level ``migrations/`` folder and is installed as
``bot.migrations`` (``setup.py``). The wheel is built offline from a copy of the
sources (so the build leaves nothing in the worktree); the fresh venv gets the wheel and
borrows the test venv's dependencies through a ``.pth`` line, whose own ``.pth`` files (the
editable install's finder) Python does not run.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("bot", "migrations", "setup.py", "pyproject.toml", "README.md")
SHIPPED_SUFFIXES = {".py", ".mako", ".yml", ".yaml", ".json", ".html", ".j2", ".tiktoken", ".css",
                    ".js"}

pytestmark = pytest.mark.timeout(300)


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{args[:3]} failed:\n{result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "-w", str(work / "dist"), str(source)]
    )
    (built,) = (work / "dist").glob("auditbot-*.whl")
    return built


def _expected(folder: Path, installed_as: str) -> set[str]:
    return {
        f"{installed_as}/{path.relative_to(folder).as_posix()}"
        for path in folder.rglob("*")
        if path.is_file() and path.suffix in SHIPPED_SUFFIXES and "__pycache__" not in path.parts
    }


def test_the_wheel_ships_every_module_and_the_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = _expected(ROOT / "bot", "bot") | _expected(
        ROOT / "migrations", "bot/migrations"
    )
    assert "bot/migrations/versions/0001_initial_schema.py" in expected
    assert "bot/migrations/script.py.mako" in expected
    assert sorted(expected - names) == []
    assert not any(name.startswith("migrations/") for name in names)  # no top-level package


def test_auditbot_migrate_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
          "--no-deps", "--no-index", str(wheel)])
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                .stdout.strip())
    (site / "test-venv-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")

    workdir = tmp_path / "elsewhere"  # no checkout, no alembic.ini here
    workdir.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'data' / 'auditbot.db'}"}
    where = _run([str(python), "-c", "import bot.store.migrate as m; print(m.migrations_dir())"],
                 cwd=workdir, env=env).stdout.strip()
    assert Path(where).is_relative_to(site), where  # the wheel's copy, not the checkout's

    done = _run([str(venv / "bin" / "auditbot"), "migrate"], cwd=workdir, env=env)
    assert "database at revision head" in done.stdout
    with sqlite3.connect(tmp_path / "data" / "auditbot.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        version = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"audit_tasks", "findings", "projects", "llm_usage"} <= tables
    assert len(version) == 1
