"""Recall and false-positive rate of the offline pipeline on the frozen held-out sets, per
language and per category, and time per 1,000 lines.

    .venv/bin/python bench/bench_heldout.py            # set A: per-language and category table
    .venv/bin/python bench/bench_heldout.py --verbose  # set A, listing misses and false positives
    .venv/bin/python bench/bench_heldout.py --set b    # set B (blind): figures only
    .venv/bin/python bench/bench_heldout.py --set c    # set C (blind): shell, Dockerfiles,
                                                       # workflows, C/C++ and a little JavaScript
    .venv/bin/python bench/bench_heldout.py --set d    # set D (blind): JavaScript only

The sets live in bench/fixtures/heldout_<set>, one folder per language.
They were written before the rule changes they measure and are frozen: a rule is never tuned
on them (the misses of sets B, C and D are not even listed, so nobody can tune on them by
accident). Set C (shell, Dockerfiles, workflows, C/C++, and JavaScript's safe look-alikes) was
written before the engine rules for those languages; set D (JavaScript) before the second
JavaScript false-positive fix, by someone who had seen set C's three. Each labelled line
follows a marker comment on the line before it, ``<comment> eval: vuln|safe <category>``; a
vulnerable line counts as found, and a safe line as a false positive, when a finding at or
above ``low`` (the lowest severity posted inline by default) has a region covering that line.
The whole folder of a language goes through the pipeline's offline stage at once, as the files
of one pull request would.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bot.findings import Finding, Severity

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The default of .auditbot.yml's review.min_severity: lower findings stay out of the PR.
FLOOR = Severity.LOW
_MARKER = re.compile(r"^\s*(?:#|//|--|;|<!--)\s*eval:\s*(vuln|safe)\s+([\w-]+)\s*(?:-->)?\s*$")


@dataclass(frozen=True)
class Label:
    language: str
    path: str  # relative to the language's folder
    line: int
    vulnerable: bool
    category: str


@dataclass
class Tally:
    found: int = 0
    vulnerable: int = 0
    false_positives: int = 0
    safe: int = 0
    misses: list[str] = field(default_factory=list)
    noise: list[str] = field(default_factory=list)

    def add(self, label: Label, flagged: bool, where: str) -> None:
        if label.vulnerable:
            self.vulnerable += 1
            self.found += flagged
            if not flagged:
                self.misses.append(where)
        else:
            self.safe += 1
            self.false_positives += flagged
            if flagged:
                self.noise.append(where)

    def row(self, name: str) -> str:
        recall = self.found / self.vulnerable if self.vulnerable else float("nan")
        fp = self.false_positives / self.safe if self.safe else float("nan")
        return (f"| {name} | {recall:.2f} ({self.found}/{self.vulnerable}) | "
                f"{fp:.2f} ({self.false_positives}/{self.safe}) |")


def read_set(folder: Path) -> tuple[dict[str, dict[str, str]], list[Label]]:
    """Per language, its files (relative path -> text), and every labelled line."""
    files: dict[str, dict[str, str]] = defaultdict(dict)
    labels: list[Label] = []
    for language_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(p for p in language_dir.rglob("*") if p.is_file()):
            relative = path.relative_to(language_dir).as_posix()
            text = path.read_text("utf-8")
            files[language_dir.name][relative] = text
            lines = text.split("\n")
            for number, line in enumerate(lines, start=1):
                marker = _MARKER.match(line)
                if marker and number < len(lines):
                    labels.append(Label(language_dir.name, relative, number + 1,
                                        marker.group(1) == "vuln", marker.group(2)))
    return files, labels


def analyse(files: dict[str, str]) -> list[Finding]:
    """The offline stage of the pipeline over one language's files, as one change."""
    try:
        from bot.analysis.offline import analyze_change
    except ImportError:  # the code before the engine: one file at a time
        from bot.analysis.static import analyze_file

        return [f for path, text in files.items() for f in analyze_file(path, text)]
    return analyze_change(files).findings


def big_change() -> None:
    """A 200-file, 30,000-line change (Python, JavaScript, Go, Java) through the whole offline
    stage, every line changed, the way a large pull request brings it."""
    kinds = {
        "py": lambda i: (f"def handler_{i}(request, db):\n    name = request.args.get('n{i}')\n"
                         f"    rows = db.execute('SELECT * FROM t WHERE id = %s', (name,))\n"
                         "    return [r for r in rows if r.owner == name]\n\n"),
        "js": lambda i: (f"app.get('/r{i}', (req, res) => {{\n  const id = req.query.id;\n"
                         "  res.json({ id });\n});\n\n"),
        "go": lambda i: (f"func h{i}(w http.ResponseWriter, r *http.Request) {{\n"
                         "\tid := r.URL.Query().Get(\"id\")\n\tfmt.Fprintln(w, id)\n}\n\n"),
        "java": lambda i: (f"  String m{i}(String a) {{\n    String b = a.trim();\n"
                           "    return b;\n  }}\n\n"),
    }
    files: dict[str, str] = {}
    for n in range(200):
        suffix = list(kinds)[n % 4]
        body = "".join(kinds[suffix](i) for i in range(30))
        head = {"py": "import os\n\n", "js": "", "go": "package main\n\n",
                "java": "class C {\n"}[suffix]
        files[f"src/m{n}/f{n}.{suffix}"] = head + body + ("}\n" if suffix == "java" else "")
    timed("synthetic 200-file change (every function a source and a sink)", files)
    timed("200 files of installed libraries (Python, 50-400 lines each)", library_files())


def library_files() -> dict[str, str]:
    """200 files of the libraries this project installs, picked by a fixed seed."""
    import importlib.util
    import random

    files: dict[str, str] = {}
    for name in ("httpx", "starlette", "jinja2", "click", "alembic", "sqlalchemy", "redis",
                 "arq", "uvicorn"):
        spec = importlib.util.find_spec(name)
        root = Path(next(iter(spec.submodule_search_locations or ()))) if spec else None
        for path in sorted(root.rglob("*.py")) if root else ():
            text = path.read_text("utf-8", "replace")
            if 50 <= text.count("\n") <= 400:
                files[f"{name}/{path.relative_to(root)}"] = text
    chosen = sorted(files)
    random.Random(18).shuffle(chosen)
    return {path: files[path] for path in chosen[:200]}


def timed(label: str, files: dict[str, str]) -> None:
    import resource

    from bot.analysis.offline import analyze_change

    lines = sum(text.count("\n") for text in files.values())
    changed = {path: set(range(1, text.count("\n") + 2)) for path, text in files.items()}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began, cpu = time.perf_counter(), time.process_time()
    result = analyze_change(files, changed)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    engine_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"{label}: {len(files)} files, {lines:,} lines, {len(result.findings)} findings; "
          f"{elapsed:.2f} s wall, CPU {cpu:.2f} s here + {engine_cpu:.2f} s in Semgrep "
          f"(engine ran: {result.engine_ran}); peak Semgrep memory {after.ru_maxrss / 1024:.0f} MB")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", choices=["a", "b", "c", "d"], default="a")
    parser.add_argument("--verbose", action="store_true", help="list misses (set A only)")
    parser.add_argument("--change", action="store_true",
                        help="time a 200-file, 30,000-line change instead")
    args = parser.parse_args()
    if args.change:
        big_change()
        return 0
    folder = FIXTURES / f"heldout_{args.set}"
    files, labels = read_set(folder)
    analyse({"warm/up.py": "x = 1\n"})  # rule tables and Bandit's plugins load once

    by_language: dict[str, Tally] = defaultdict(Tally)
    by_category: dict[str, Tally] = defaultdict(Tally)
    total = Tally()
    lines = 0
    elapsed = 0.0
    for language, texts in files.items():
        lines += sum(text.count("\n") + 1 for text in texts.values())
        began = time.perf_counter()
        findings = analyse(texts)
        elapsed += time.perf_counter() - began
        covered: dict[str, set[int]] = defaultdict(set)
        for finding in findings:
            if finding.severity.at_least(FLOOR):
                covered[finding.path].update(range(finding.start_line, finding.end_line + 1))
        for label in (lb for lb in labels if lb.language == language):
            flagged = label.line in covered[label.path]
            where = f"{language}/{label.path}:{label.line} {label.category}"
            for tally in (by_language[language], by_category[label.category], total):
                tally.add(label, flagged, where)

    print(f"held-out set {args.set.upper()}: {total.vulnerable} vulnerable and {total.safe} safe "
          f"lines in {sum(len(t) for t in files.values())} files; severity >= {FLOOR.value}")
    print("\n| language | recall | false-positive rate |\n| --- | --- | --- |")
    for name, tally in sorted(by_language.items()):
        print(tally.row(name))
    print(total.row("**all**"))
    print("\n| category | recall | false-positive rate |\n| --- | --- | --- |")
    for name, tally in sorted(by_category.items()):
        print(tally.row(name))
    print(f"\ntime: {elapsed:.2f} s for {lines:,} lines, {elapsed / lines * 1000 * 1000:.0f} ms "
          f"per 1,000 lines (includes per-job start-up)")
    if args.verbose:
        if args.set != "a":
            print(f"set {args.set.upper()} is blind: its misses are not listed")
        else:
            for miss in total.misses:
                print(f"  missed          {miss}")
            for noise in total.noise:
                print(f"  false positive  {noise}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
