"""Imports only point down the layers (docs/architecture.md): each top-level part of ``bot/``
may import the parts listed in ``ALLOWED`` and nothing else, the list itself has no cycle, a
forge adapter does not import another, and the jobs leave SQL to ``bot/store``.

A new import that runs up the layers fails here with its file and line; if the direction is
right after all, add it to ``ALLOWED`` (and the test checks that it still has no cycle).
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

# Foundations every layer may use: plain modules with no I/O of their own beyond what they
# name (the settings, the error tree, the findings schema, log binding, report-link signing).
BASE = frozenset({"errors", "config", "findings", "logs", "signing"})

# part -> the parts it may import (besides BASE), top of the data flow first:
# webhook in -> events -> jobs -> forge -> diff -> llm/analysis -> publish -> store -> API.
ALLOWED: dict[str, frozenset[str]] = {
    "__main__": frozenset({"cli"}),
    "cli": frozenset(
        {"web", "jobs", "reports", "store", "llm", "forges", "preflight", "setup", "doctor"}
    ),
    "doctor": frozenset({"forges", "llm", "preflight", "setup", "store"}),
    "web": frozenset({"events", "jobs", "reports", "store", "preflight", "mail"}),
    "events": frozenset({"jobs", "forges"}),
    "jobs": frozenset({"analysis", "reports", "forges", "diff", "llm", "store"}),
    "reports": frozenset({"store"}),
    "analysis": frozenset({"forges", "diff", "llm"}),
    "forges": frozenset({"diff"}),
    "diff": frozenset(),
    "store": frozenset({"llm", "postgres_url"}),
    "llm": frozenset(),
    "preflight": frozenset({"store"}),
    "setup": frozenset({"forges"}),
    "mail": frozenset({"errors"}),
    "signing": frozenset({"config", "errors"}),
    "config": frozenset({"errors", "mail", "postgres_url"}),
    "postgres_url": frozenset(),
    "logs": frozenset(),
    "findings": frozenset(),
    "errors": frozenset(),
}
FOUNDATIONS = ("errors", "config", "findings", "logs", "signing", "mail", "postgres_url")

FORGES = ("github", "gitlab", "local")


def part_of(module: str) -> str | None:
    """The top-level part of ``bot`` a dotted module name belongs to."""
    names = module.split(".")
    if names[0] != "bot":
        return None
    return names[1] if len(names) > 1 else "bot"


def module_of(path: Path, root: Path) -> str:
    names = list(path.relative_to(root.parent).with_suffix("").parts)
    if names[-1] == "__init__":
        names.pop()
    return ".".join(names)


def imports(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module) of every import in ``path``, relative ones resolved; imports
    inside functions and ``TYPE_CHECKING`` blocks count (they are dependencies too)."""
    package = module_of(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def upward_imports(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        source = part_of(module_of(path, root))
        assert source is not None
        if source == "bot":  # bot/__init__.py
            continue
        allowed = ALLOWED.get(source)
        if allowed is None:
            found.append(f"{path.relative_to(root.parent)}: {source} is not in ALLOWED")
            continue
        allowed = allowed | (BASE if source not in FOUNDATIONS else frozenset())
        for line, module in imports(path, root):
            target = part_of(module)
            if target in (None, source, "bot") or target not in ALLOWED:
                continue  # outside bot/, inside its own part, or a name of a module
            if target not in allowed:
                found.append(f"{path.relative_to(root.parent)}:{line} {source} -> {module}")
    return sorted(set(found))


def test_imports_only_point_down() -> None:
    assert upward_imports(BOT) == []


def test_the_allowed_directions_have_no_cycle() -> None:
    graph = {
        part: (targets | (BASE if part not in FOUNDATIONS else frozenset())) - {part}
        for part, targets in ALLOWED.items()
    }
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle


def test_every_part_of_bot_is_listed() -> None:
    parts = {p.stem for p in BOT.glob("*.py")} | {
        p.name for p in BOT.iterdir() if (p / "__init__.py").exists()
    }
    assert parts - {"__init__"} <= set(ALLOWED)


def adapter_of(module: str) -> str | None:
    names = module.split(".")
    if names[:2] == ["bot", "forges"] and len(names) > 2 and names[2] in FORGES:
        return names[2]
    return None


def test_a_forge_adapter_does_not_import_another() -> None:
    """Adapters share only ``bot/forges``' own modules, which import no adapter."""
    found = []
    for path in sorted((BOT / "forges").rglob("*.py")):
        own = adapter_of(module_of(path, BOT))
        for line, module in imports(path, BOT):
            used = adapter_of(module)
            if used is not None and used != own:
                found.append(f"{path.relative_to(BOT.parent)}:{line} -> {module}")
    assert sorted(set(found)) == []


def sql_in_jobs(root: Path) -> list[str]:
    """Places in ``bot/jobs`` that speak SQL (SQLAlchemy, ORM model classes, a session
    opened by hand) instead of calling ``bot/store``. The session factory's type is fine."""
    found = []
    for path in sorted((root / "jobs").rglob("*.py")):
        tree = ast.parse(path.read_text())
        where = path.relative_to(root.parent)
        for line, module in imports(path, root):
            if module.startswith("sqlalchemy") and not module.startswith(
                "sqlalchemy.ext.asyncio"
            ):
                found.append(f"{where}:{line} imports {module}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "sessions"
            ):
                found.append(f"{where}:{node.lineno} opens a session")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "sessions"
            ):
                found.append(f"{where}:{node.lineno} opens a session")
    return sorted(set(found))


def test_the_jobs_leave_sql_to_the_store() -> None:
    assert sql_in_jobs(BOT) == []


@pytest.mark.parametrize(
    ("module", "text", "expected"),
    [
        ("diff/rogue.py", "from bot.jobs.deps import JobDeps\n",
         "bot/diff/rogue.py:1 diff -> bot.jobs.deps"),
        ("store/rogue.py", "from ..web import app\n", "bot/store/rogue.py:1 store -> bot.web"),
        ("llm/rogue.py", "def f():\n    import bot.store.db\n",
         "bot/llm/rogue.py:2 llm -> bot.store.db"),
    ],
    ids=["absolute", "relative", "inside-a-function"],
)
def test_the_rule_catches_an_upward_import(
    tmp_path: Path, module: str, text: str, expected: str
) -> None:
    root = tmp_path / "bot"
    (root / module).parent.mkdir(parents=True)
    (root / module).write_text(text)
    assert expected in upward_imports(root)


def test_the_rule_catches_sql_in_a_job(tmp_path: Path) -> None:
    root = tmp_path / "bot"
    (root / "jobs").mkdir(parents=True)
    (root / "jobs" / "rogue.py").write_text(
        "from sqlalchemy import select\n"
        "async def f(deps):\n"
        "    async with deps.sessions() as session:\n"
        "        await session.execute(select(1))\n"
    )
    assert sql_in_jobs(root) == [
        "bot/jobs/rogue.py:1 imports sqlalchemy",
        "bot/jobs/rogue.py:1 imports sqlalchemy.select",
        "bot/jobs/rogue.py:3 opens a session",
    ]
