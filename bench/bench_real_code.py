"""The offline analyzers on real, unlabelled code: the Python libraries this project installs.

    .venv/bin/python bench/bench_real_code.py [--min-severity high] [--show 5]

The labelled corpus (bench_static.py) measures recall and false positives on snippets written
for it; this run shows what the analyzers say about mature libraries no one wrote for them:
how many findings at or above ``--min-severity`` per package, which rules, and the first few
locations, so a rule that starts firing on ordinary code shows up here first. Library code
does run eval, exec and pickle on purpose, so the figure is not a false-positive rate: read
the listed locations. Nothing is fetched: the packages are the ones in this environment.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections import Counter
from pathlib import Path

from bot.analysis.offline import analyze_change
from bot.findings import Finding, Severity

PACKAGES = ("httpx", "starlette", "jinja2", "click", "alembic", "sqlalchemy", "redis", "arq",
            "uvicorn")


def package_files(name: str) -> tuple[Path, list[Path]]:
    """The package's folder and its Python files."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{name} is not installed here")
    root = Path(next(iter(spec.submodule_search_locations)))
    return root, sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-severity", default="high", choices=[s.value for s in Severity])
    ap.add_argument("--show", type=int, default=5, help="locations listed per package")
    args = ap.parse_args()
    floor = Severity(args.min_severity)
    total_lines = total_findings = 0
    started = time.perf_counter()
    print(f"{'package':<12} {'files':>6} {'lines':>8} {'findings':>9}  rules (>= {floor.value})")
    for name in PACKAGES:
        root, files = package_files(name)
        texts = {f"{name}/{path.relative_to(root)}": path.read_text("utf-8", errors="replace")
                 for path in files}
        lines = sum(text.count("\n") for text in texts.values())
        # The whole package as one change: the engine runs once for it, as for a pull request.
        found: list[tuple[str, Finding]] = [
            (f.path, f) for f in analyze_change(texts).findings if f.severity.at_least(floor)
        ]
        rules = Counter(f.source for _, f in found)
        summary = ", ".join(f"{n} {rule}" for rule, n in rules.most_common(4))
        print(f"{name:<12} {len(files):>6} {lines:>8} {len(found):>9}  {summary}")
        for relative, finding in found[: args.show]:
            print(f"{'':<14}{relative}:{finding.start_line} {finding.title}")
        total_lines += lines
        total_findings += len(found)
    elapsed = time.perf_counter() - started
    print(f"total: {total_findings} finding(s) in {total_lines:,} lines, {elapsed:.1f} s "
          f"({total_lines / elapsed:,.0f} lines/s)")


if __name__ == "__main__":
    main()
