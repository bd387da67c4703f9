"""Every third-party package ``bot/`` imports is declared in ``pyproject.toml``'s
dependencies (a package that only arrives with another may leave when that one changes)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Declared through an extra of another requirement (the extra is the declaration).
THROUGH_EXTRAS = {"cryptography": "pyjwt[crypto]", "hiredis": "redis[hiredis]"}


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert name is not None
        names.add(name.group(0).lower().replace("_", "-"))
    return names


def imported_top_names() -> dict[str, str]:
    """{top-level module: first file importing it} for modules outside the standard library."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "bot" and top not in sys.stdlib_module_names:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared() -> None:
    distributions = packages_distributions()
    wanted = declared()
    missing = []
    for top, where in sorted(imported_top_names().items()):
        dists = {d.lower().replace("_", "-") for d in distributions.get(top, [])}
        if not dists:
            missing.append(f"{top} ({where}): not installed")
        elif not dists & wanted and top not in THROUGH_EXTRAS:
            missing.append(f"{top} ({where}): from {sorted(dists)}, not declared")
    assert missing == []


def test_the_model_sdks_are_imported_only_when_a_provider_is_built() -> None:
    """openai and anthropic take about a second each to import: an offline `auditbot review`
    (bot.jobs.local) and the web process never load them."""
    code = (
        "import sys, bot.cli, bot.jobs.local, bot.web.main, bot.llm.service\n"
        "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_the_web_process_does_not_load_the_review_pipeline() -> None:
    """The API ends tasks through bot.jobs.lifecycle (a cancel): that must not bring the
    pipeline's analyzers (bandit, detect-secrets: hundreds of modules) into the web process."""
    code = (
        "import sys, bot.web.main, bot.web.api, bot.jobs.lifecycle\n"
        "print(sorted(m for m in ('bot.analysis.pipeline', 'bandit', 'detect_secrets')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
