"""Chunk packing: budget, stability, order."""

from __future__ import annotations

from bot.diff.chunking import build_chunks, sending_order
from bot.diff.parse import FileDiff, parse_patch


def _file(path: str, n_hunks: int, width: int = 3) -> tuple[FileDiff, str]:
    """A file whose diff adds ``width`` lines every 20 lines (pure-addition hunks)."""
    content_lines = [f"value_{i} = compute({i})" for i in range(1, n_hunks * 20 + 10)]
    offset_patch = ""
    shift = 0
    for k in range(n_hunks):
        start = k * 20 + 5
        body = "".join(f"+{content_lines[start - 1 + j]}\n" for j in range(width))
        offset_patch += f"@@ -{start - 1 - shift},0 +{start},{width} @@\n{body}"
        shift += width
    return parse_patch(path, offset_patch), "\n".join(content_lines) + "\n"


def test_small_file_is_one_chunk_with_its_lines() -> None:
    f, content = _file("src/a.py", 2)
    [chunk] = build_chunks([f], {"src/a.py": content}, budget_tokens=4000, model="gpt-4o")
    assert chunk.paths == ("src/a.py",)
    assert [h.hunk_index for h in chunk.hunks] == [0, 1]
    assert f.added_lines() <= chunk.lines_for("src/a.py")
    assert chunk.token_count <= 4000 and len(chunk.id) == 64


def test_big_file_splits_at_hunks_and_stays_under_budget() -> None:
    f, content = _file("src/big.py", 30)
    chunks = build_chunks([f], {"src/big.py": content}, budget_tokens=400, model="gpt-4o")
    assert len(chunks) > 1
    assert all(c.token_count <= 400 for c in chunks)
    assert [h.hunk_index for c in chunks for h in c.hunks] == list(range(30))


def test_chunk_of_unchanged_file_does_not_depend_on_other_files() -> None:
    a, ca = _file("src/a.py", 3)
    b, cb = _file("lib/b.py", 3)
    c, cc = _file("zzz/c.py", 1, width=5)
    contents = {"src/a.py": ca, "lib/b.py": cb, "zzz/c.py": cc}
    alone = build_chunks([a], contents, budget_tokens=300)
    together = build_chunks([c, b, a], contents, budget_tokens=300)
    assert {x.id for x in alone} <= {x.id for x in together}


def test_sending_order_puts_sensitive_paths_first() -> None:
    a, ca = _file("src/util.py", 1)
    b, cb = _file("src/auth/login.py", 1)
    chunks = build_chunks([a, b], {"src/util.py": ca, "src/auth/login.py": cb},
                          budget_tokens=2000, small_unit_tokens=0)
    ordered = sending_order(chunks)
    assert ordered[0].paths == ("src/auth/login.py",)
    assert sorted(c.id for c in ordered) == sorted(c.id for c in chunks)
