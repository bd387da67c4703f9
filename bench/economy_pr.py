"""The pull requests of issue 14's shape, as a real local git repository.

Every file is small Python of an ordinary shape (a docstring, imports, a constant, a few
short functions); a pull request edits one or two lines inside functions of most files,
adds three new files that each hold one real flaw, and touches five files no reviewer
sends to a model (a lockfile, a minified asset, a vendored module, a binary image and a
deleted module). Everything is deterministic: the same arguments give the same commits.

    files=57  ->  52 reviewable files, 144 added / 44 removed lines (as in the issue)
    files=417 -> 412 reviewable files, 544 added / 444 removed lines
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from tests.support.gitrepo import commit, git, make_repo

UNREVIEWABLE = 5  # lockfile, minified asset, vendored module, binary image, deleted module

_FUNCTIONS = (
    (
        "def active_{n}(records):",
        '    """The records still in use."""',
        "    found = []",
        "    for record in records:",
        '        if record.get("active"):',
        "            found.append(record)",
        "    return found",
    ),
    (
        "def total_{n}(items, rate=1.0):",
        "    total = 0.0",
        "    for item in items:",
        '        total += item.get("amount", 0) * rate',
        "    return round(total, 2)",
    ),
    (
        "def label_{n}(user):",
        '    name = user.get("name") or "anonymous"',
        '    return f"{{name}} <{{user.get(\'email\', \'\')}}>"',
    ),
    (
        "def chunked_{n}(values, size={k}):",
        "    if size <= 0:",
        '        raise ValueError("size must be positive")',
        "    return [values[i : i + size] for i in range(0, len(values), size)]",
    ),
    (
        "class Counter{n}:",
        '    """Counts events by name."""',
        "",
        "    def __init__(self):",
        "        self.counts = {{}}",
        "",
        "    def add(self, name):",
        "        self.counts[name] = self.counts.get(name, 0) + 1",
        "        return self.counts[name]",
    ),
    (
        "def parse_{n}(line):",
        '    key, _, value = line.partition("=")',
        "    return key.strip(), value.strip()",
    ),
)
# (line to find, its replacement): one-line edits of the kind a real change makes.
_EDITS = (
    ('        if record.get("active"):',
     '        if record.get("active") and not record.get("deleted"):'),
    ('        total += item.get("amount", 0) * rate',
     '        total += float(item.get("amount") or 0) * rate'),
    ('    name = user.get("name") or "anonymous"',
     '    name = (user.get("name") or "").strip() or "anonymous"'),
    ("    if size <= 0:", "    if not isinstance(size, int) or size <= 0:"),
    ("        self.counts[name] = self.counts.get(name, 0) + 1",
     "        self.counts[name] = self.counts.get(name, 0) + step"),
    ('    key, _, value = line.partition("=")', '    key, _, value = line.strip().partition("=")'),
)
_ADDED = (
    "        if len(found) >= LIMIT:",
    "            break",
)

# A harmless helper each new file ends with (the new files are more than their flaw).
_DESCRIBE = '''

def describe(item):
    """A short label for logs."""
    if not item:
        return "(none)"
    kind = type(item).__name__
    # Sized items say how many they hold; anything else counts as one.
    size = len(item) if hasattr(item, "__len__") else 1
    return f"{kind} of {size}"
'''

FLAWED: dict[str, str] = {
    "src/api/export.py": '''"""Export reports for download."""

import subprocess
from pathlib import Path

EXPORT_DIR = Path("/srv/exports")


def export_report(report_id, target):
    """Write the report to ``target`` with the system's exporter."""
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    command = "report-tool export " + report_id + " > " + target
    subprocess.call(command, shell=True)
    return EXPORT_DIR / target


def list_exports():
    return sorted(p.name for p in EXPORT_DIR.iterdir())
''',
    "src/api/search.py": '''"""Search users by name."""

import sqlite3


def connect(path="app.db"):
    return sqlite3.connect(path)


def search_users(db, name):
    """Users whose name matches ``name``."""
    query = "SELECT id, name FROM users WHERE name = '" + name + "'"
    rows = db.execute(query).fetchall()
    return [{"id": row[0], "name": row[1]} for row in rows]


def count_users(db):
    return db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
''',
    "src/api/files.py": '''"""Serve uploaded files."""

import os

UPLOADS = "/srv/uploads"


def read_upload(request):
    """The bytes of the file the request names."""
    name = request.args.get("name", "")
    path = os.path.join(UPLOADS, name)
    with open(path, "rb") as handle:
        return handle.read()


def upload_size(name):
    return os.path.getsize(os.path.join(UPLOADS, name))
''',
}
FLAWED = {path: text + _DESCRIBE for path, text in FLAWED.items()}
# The flaw of each new file, as the scripted model recognises it (path, code of the line).
FLAW_LINES = {
    "src/api/export.py": "subprocess.call(command, shell=True)",
    "src/api/search.py": "query = \"SELECT id, name FROM users WHERE name = '\" + name + \"'\"",
    "src/api/files.py": "path = os.path.join(UPLOADS, name)",
}


@dataclass
class PullRequest:
    repo: Path
    base: str  # branch names
    head: str
    files: int
    reviewable: int
    title: str
    body: str
    edited: list[str]  # paths of the modified modules, for later pushes


def _module(index: int, rng: random.Random) -> list[str]:
    lines = [
        f'"""Helpers of area {index}."""',
        "",
        "from __future__ import annotations",
        "",
        "import logging",
        "",
        "log = logging.getLogger(__name__)",
        f"LIMIT = {rng.randint(10, 500)}",
    ]
    picks = rng.sample(range(len(_FUNCTIONS)), 4)
    for pick in picks:
        lines += ["", ""]
        lines += [ln.format(n=index, k=rng.randint(2, 9)) for ln in _FUNCTIONS[pick]]
    return lines


def _edit(lines: list[str], rng: random.Random, two: bool, add_only: bool) -> list[str]:
    """One or two one-line replacements, or two added lines, inside functions."""
    out = list(lines)
    if add_only:
        at = next((i for i, ln in enumerate(out) if ln == "            found.append(record)"), None)
        if at is not None:
            return out[: at + 1] + list(_ADDED) + out[at + 1 :]
        at = next(i for i, ln in enumerate(out) if ln.startswith("    return"))
        return [*out[:at], '    log.debug("done")', '    log.debug("returning")', *out[at:]]
    candidates = [i for i, ln in enumerate(out) if any(ln == old for old, _ in _EDITS)]
    for i in sorted(rng.sample(candidates, min(len(candidates), 2 if two else 1))):
        out[i] = dict(_EDITS)[out[i]]
    return out


def build(root: Path, files: int, seed: int = 14) -> PullRequest:
    """A repository under ``root`` with branch ``main`` and the PR's head ``feature``."""
    rng = random.Random(seed * 1000 + files)
    modified = files - len(FLAWED) - UNREVIEWABLE
    dirs = max(4, modified // 12)
    paths = [f"src/area{i % dirs}/mod_{i}.py" for i in range(modified)]
    base: dict[str, str | None] = {}
    modules: dict[str, list[str]] = {}
    for i, path in enumerate(paths):
        modules[path] = _module(i, rng)
        base[path] = "\n".join(modules[path]) + "\n"
    base["uv.lock"] = "version = 1\n\n[[package]]\nname = \"requests\"\nversion = \"2.31.0\"\n"
    base["static/app.min.js"] = "!function(){var a=1;console.log(a)}();\n"
    base["vendor/six.py"] = '"""Vendored."""\nPY3 = True\n'
    base["src/legacy.py"] = "def old():\n    return 1\n"
    repo = make_repo(root, base)
    (repo / "docs").mkdir(exist_ok=True)
    (repo / "docs" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    commit(repo, {}, "logo")
    git(repo, "checkout", "-q", "-b", "feature")
    head: dict[str, str | None] = {}
    # The line counts: 9 files only add two lines; in the large PR 40 files have
    # two one-line edits, the others one.
    add_only = 9
    twos = 0 if files < 100 else 40
    for i, path in enumerate(paths):
        new = _edit(modules[path], rng, two=i < twos, add_only=i >= modified - add_only)
        head[path] = "\n".join(new) + "\n"
    head.update(FLAWED)
    head["uv.lock"] = base["uv.lock"].replace("2.31.0", "2.32.3")  # type: ignore[union-attr]
    head["static/app.min.js"] = "!function(){var a=2;console.log(a)}();\n"
    head["vendor/six.py"] = '"""Vendored."""\nPY3 = True\nPY2 = False\n'
    head["src/legacy.py"] = None
    (repo / "docs" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)))
    commit(repo, head, "feature: validation and the export API")
    return PullRequest(
        repo=repo, base="main", head="feature", files=files,
        reviewable=modified + len(FLAWED),
        title="Validate inputs across the helpers; add export, search and upload APIs",
        body=(
            "Tightens input handling in the area helpers (inactive and deleted records, "
            "missing amounts, blank names) and adds three small API modules: report "
            "export, user search and upload download. No schema change."
        ),
        edited=paths,
    )


def push_one(pr: PullRequest, index: int) -> str:
    """A later push on the PR's head changing one more line of one module."""
    path = pr.edited[(index * 7) % len(pr.edited)]
    text = (pr.repo / path).read_text()
    text = text.replace("log = logging.getLogger(__name__)",
                        f"log = logging.getLogger(__name__)  # push {index}", 1)
    return commit(pr.repo, {path: text}, f"push {index}")


def line_counts(pr: PullRequest) -> tuple[int, int]:
    out = git(pr.repo, "diff", "--numstat", f"{pr.base}..{pr.head}")
    added = removed = 0
    for row in out.splitlines():
        a, r, _ = row.split("\t", 2)
        if a != "-":
            added, removed = added + int(a), removed + int(r)
    return added, removed
