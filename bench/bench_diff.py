"""Benchmark of the diff engine on a synthetic PR: 5,000 files, 200,000 changed lines.

Parse (GitHub-style header-less patches), filter (path and content rules), add context
(tree-sitter scopes) and chunk under a token budget. Prints wall time, CPU time and peak
memory per stage and in total. Goal on the project's machine: under 2 s and under 300 MB.

    .venv/bin/python bench/bench_diff.py [--files 5000] [--hunks 4] [--budget 60000]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable
from typing import TypeVar

from bot.diff.chunking import build_chunks
from bot.diff.filters import FileFilter
from bot.diff.parse import FileDiff, parse_patch
from bot.diff.scopes import ScopeIndex
from bot.diff.tokens import count_many, get_encoding

T = TypeVar("T")

LANGS = [
    (
        ".py",
        "def handler_{f}_{i}(request, value):\n",
        "    result_{j} = compute(value, {j})\n",
        "    return result\n",
    ),
    (
        ".go",
        "func Handler{f}x{i}(value int) int {{\n",
        "\tresult{j} := compute(value, {j})\n",
        "}}\n",
    ),
    (
        ".ts",
        "export function handler{f}x{i}(value: number): number {{\n",
        "  const result{j} = compute(value, {j});\n",
        "}}\n",
    ),
    (
        ".java",
        "  int handler{f}x{i}(int value) {{\n",
        "    int result{j} = compute(value, {j});\n",
        "  }}\n",
    ),
]


def synthetic_file(f: int, functions: int = 20, body: int = 8) -> tuple[str, str, str]:
    """(path, old content, new content): ``functions`` functions of ``body`` lines."""
    ext, head, line, tail = LANGS[f % len(LANGS)]
    old: list[str] = []
    if ext == ".go":
        old.append("package bench\n")
    if ext == ".java":
        old.append(f"class C{f} {{\n")
    for i in range(functions):
        old.append(head.format(f=f, i=i))
        old.extend(line.format(j=j) for j in range(body))
        old.append(tail)
    if ext == ".java":
        old.append("}\n")
    return f"pkg{f % 50}/mod{f}{ext}", "".join(old), ""


def edit(old: str, hunks: int, changed_per_hunk: int) -> tuple[str, str]:
    """New content and the header-less patch replacing lines in ``hunks`` places."""
    lines = old.split("\n")[:-1]
    new = list(lines)
    half = changed_per_hunk // 2
    patch: list[str] = []
    offset = 0
    step = len(lines) // hunks
    for h in range(hunks):
        start = h * step + 5  # 0-based first replaced line
        ctx_a = lines[start - 3 : start]
        removed = lines[start : start + half]
        added = [ln.replace("compute(", "compute_v2(") + "  // changed" for ln in removed]
        ctx_b = lines[start + half : start + half + 3]
        new[start + offset : start + offset + half] = added
        src_start = start - 3 + 1
        tgt_start = src_start + offset
        n = len(ctx_a) + half + len(ctx_b)
        patch.append(f"@@ -{src_start},{n} +{tgt_start},{n} @@\n")
        patch.extend(f" {c}\n" for c in ctx_a)
        patch.extend(f"-{r}\n" for r in removed)
        patch.extend(f"+{a}\n" for a in added)
        patch.extend(f" {c}\n" for c in ctx_b)
    return "\n".join(new) + "\n", "".join(patch).rstrip("\n")


def timed(label: str, fn: Callable[[], T], rows: list[tuple[str, float, float]]) -> T:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    rows.append((label, time.perf_counter() - w0, time.process_time() - c0))
    return out


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for row in fh:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--hunks", type=int, default=4)
    ap.add_argument("--changed", type=int, default=10, help="changed lines per hunk")
    ap.add_argument("--budget", type=int, default=60000)
    ap.add_argument("--model", default="gpt-4o")
    ap.add_argument("--functions", type=int, default=20, help="functions per file (size)")
    ap.add_argument("--no-scopes", action="store_true", help="skip tree-sitter")
    ap.add_argument(
        "--no-floor", action="store_true", help="skip the lower-bound measurement at the end"
    )
    args = ap.parse_args()

    patches: dict[str, str] = {}
    contents: dict[str, str] = {}
    for f in range(args.files):
        path, old, _ = synthetic_file(f, functions=args.functions)
        new, patch = edit(old, args.hunks, args.changed)
        patches[path] = patch
        contents[path] = new
    changed = sum(
        p.count("\n+") + p.count("\n-") + p.startswith(("+", "-")) for p in patches.values()
    )
    base_rss = rss_mb()
    print(
        f"synthetic PR: {len(patches)} files, {changed} changed lines, "
        f"{sum(len(c) for c in contents.values()) / 1e6:.1f} MB of head content"
    )

    rows: list[tuple[str, float, float]] = []
    timed(
        "load vocabulary (o200k_base, once per process)", lambda: get_encoding("o200k_base"), rows
    )
    files: list[FileDiff] = timed(
        "parse", lambda: [parse_patch(p, t, status="modified") for p, t in patches.items()], rows
    )
    ff = FileFilter()
    kept = timed(
        "filter",
        lambda: [f for f in files if ff.skip_reason(f.path, content=contents[f.path]) is None],
        rows,
    )
    chunks = timed(
        "context + chunk",
        lambda: build_chunks(
            kept, contents, budget_tokens=args.budget, model=args.model, scopes=not args.no_scopes
        ),
        rows,
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"{'stage':<50} {'wall s':>8} {'cpu s':>8}")
    for label, wall, cpu in rows:
        print(f"{label:<50} {wall:8.2f} {cpu:8.2f}")
    total_wall = sum(r[1] for r in rows)
    total_cpu = sum(r[2] for r in rows)
    print(f"{'total':<50} {total_wall:8.2f} {total_cpu:8.2f}")
    print(
        f"{'total without the one-time vocabulary load':<50} "
        f"{total_wall - rows[0][1]:8.2f} {total_cpu - rows[0][2]:8.2f}"
    )
    print(
        f"chunks: {len(chunks)} (budget {args.budget} tokens, model {args.model}), "
        f"tokens: {sum(c.token_count for c in chunks)}, hunks: "
        f"{sum(len(c.hunks) for c in chunks)}"
    )
    print(f"peak RSS: {peak:.0f} MB (after building the inputs: {base_rss:.0f} MB)")
    if not args.no_floor:
        print_floor(contents, [c.text for c in chunks], args.model, parse_cpu=rows[1][2])


def print_floor(
    contents: dict[str, str], chunk_texts: list[str], model: str, *, parse_cpu: float
) -> None:
    """CPU time of the work no schedule can skip, and the wall time it implies.

    tree-sitter's parse of every head file (the enclosing scopes need the whole tree),
    the token counts of the chunk texts and the diff parsing are each measured alone.
    Spread perfectly over every core, their sum divided by the cores is a lower bound
    of the wall time of the stages above (which also render, filter and pack).
    """
    cores = os.cpu_count() or 1
    c0 = time.process_time()
    for path, text in contents.items():
        ScopeIndex.build(path, text)  # each tree dropped at once, as build_chunks does
    parse_ts = time.process_time() - c0
    c0 = time.process_time()
    count_many(chunk_texts, model)
    counting = time.process_time() - c0
    size = sum(len(t.encode("utf-8")) for t in contents.values()) / 1e6
    floor = (parse_ts + counting + parse_cpu) / cores
    print("lower bound (each part measured alone, CPU s):")
    print(
        f"  tree-sitter parse of {size:.1f} MB of head content  {parse_ts:6.2f}"
        f"  ({size / parse_ts:.1f} MB/s)"
    )
    print(f"  token counts of the chunk texts                 {counting:6.2f}")
    print(f"  diff parsing (the parse stage above)            {parse_cpu:6.2f}")
    print(f"  => at least {floor:.2f} s wall on {cores} cores with tree-sitter context")


if __name__ == "__main__":
    main()
