"""Property tests: random files and random edits, through difflib, parser, lines, chunks."""

from __future__ import annotations

import difflib
import random

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.analysis.repo_config import RepoConfig, load_repo_config
from bot.diff.chunking import build_chunks
from bot.diff.filters import FileFilter
from bot.diff.lines import place_range
from bot.diff.parse import FileDiff, parse_patch, parse_unified_diff
from bot.diff.tokens import count_tokens

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any character but the line separators (git and our numbering split on "\n" only; CR is
# removed from line ends like CRLF).
_ALPHABET = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r")


@st.composite
def edited(
    draw: st.DrawFn, max_lines: int = 60, max_len: int = 30
) -> tuple[list[str], list[str], int]:
    text = st.text(alphabet=_ALPHABET, max_size=max_len)
    old = draw(
        st.lists(st.one_of(text, st.sampled_from(["", "}", "    return x"])), max_size=max_lines)
    )
    new = list(old)
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        pos = draw(st.integers(0, len(new)))
        if op == "insert":
            new[pos:pos] = draw(st.lists(text, min_size=1, max_size=max(4, max_lines // 3)))
        elif new and pos < len(new):
            end = min(len(new), pos + draw(st.integers(1, 3)))
            new[pos:end] = [] if op == "delete" else draw(st.lists(text, max_size=3))
    return old, new, draw(st.integers(0, 4))


def _patch(old: list[str], new: list[str], context: int) -> str:
    diff = list(
        difflib.unified_diff([ln + "\n" for ln in old], [ln + "\n" for ln in new], n=context)
    )
    return "".join(diff[2:])  # header-less, as GitHub's ``patch``


def _expected(old: list[str], new: list[str], context: int) -> tuple[set[int], set[int]]:
    added: set[int] = set()
    removed: set[int] = set()
    matcher = difflib.SequenceMatcher(None, old, new)
    for group in matcher.get_grouped_opcodes(context):
        for tag, i1, i2, j1, j2 in group:
            if tag in ("replace", "delete"):
                removed.update(range(i1 + 1, i2 + 1))
            if tag in ("replace", "insert"):
                added.update(range(j1 + 1, j2 + 1))
    return added, removed


@SETTINGS
@given(edited())
def test_diff_parses_back_to_the_same_line_sets(case: tuple[list[str], list[str], int]) -> None:
    old, new, context = case
    fd = parse_patch("f.txt", _patch(old, new, context))
    added, removed = _expected(old, new, context)
    assert fd.added_lines() == added
    assert fd.removed_lines() == removed
    for hunk in fd.hunks:
        for ln in hunk.lines:
            if ln.new_lineno is not None:
                assert new[ln.new_lineno - 1] == ln.text
            if ln.old_lineno is not None:
                assert old[ln.old_lineno - 1] == ln.text


def _in_hunk(fd: FileDiff, line: int, side: str) -> bool:
    for h in fd.hunks:
        if side == "new" and h.target_start <= line < h.target_start + h.target_length:
            return True
        if side == "old" and any(ln.kind == "-" and ln.old_lineno == line for ln in h.lines):
            return True
    return False


@SETTINGS
@given(edited(), st.integers(-5, 80), st.integers(-5, 80))
def test_commentable_lines_lie_in_hunks(
    case: tuple[list[str], list[str], int], a: int, b: int
) -> None:
    old, new, context = case
    fd = parse_patch("f.txt", _patch(old, new, context))
    for side in ("new", "old"):
        for line in fd.commentable(side):  # type: ignore[arg-type]
            assert _in_hunk(fd, line, side)
        placed = place_range(fd, a, b, side)  # type: ignore[arg-type]
        if placed is None:
            assert not any(min(a, b) <= n <= max(a, b) for n in fd.commentable(side))  # type: ignore[arg-type]
            continue
        lo, hi = placed
        assert min(a, b) <= lo <= hi <= max(a, b)
        assert {lo, hi} <= fd.commentable(side)  # type: ignore[arg-type]
        holding = [h for h in fd.hunks if lo in h.commentable(side) and hi in h.commentable(side)]  # type: ignore[arg-type]
        assert holding, "a placed range must lie in one hunk"


@st.composite
def pr(draw: st.DrawFn) -> tuple[list[FileDiff], dict[str, str]]:
    files: list[FileDiff] = []
    contents: dict[str, str] = {}
    n = draw(st.integers(1, 5))
    for i in range(n):
        big = draw(st.booleans())
        old, new, context = draw(edited(150, 150) if big else edited(12, 20))
        path = (
            draw(st.sampled_from(["src/", "lib/", ""]))
            + f"f{i}"
            + draw(st.sampled_from([".py", ".txt", ".go"]))
        )
        fd = parse_patch(path, _patch(old, new, context))
        files.append(fd)
        contents[path] = "\n".join(new) + ("\n" if new else "")
    return files, contents


@SETTINGS
@given(pr(), st.integers(256, 1200), st.sampled_from([None, "gpt-4o", "claude-3-5-sonnet"]))
def test_chunking_drops_nothing_keeps_order_and_budget(
    case: tuple[list[FileDiff], dict[str, str]], budget: int, model: str | None
) -> None:
    files, contents = case
    chunks = build_chunks(files, contents, budget_tokens=budget, model=model)
    for chunk in chunks:
        assert chunk.token_count <= budget
        # token_count is an upper bound of the real count, and a close one.
        exact = count_tokens(chunk.text, model)
        assert exact <= chunk.token_count <= exact + 8 * (len(chunk.hunks) + 2) + 16
    for fd in files:
        refs = [
            (r.hunk_index, r.part, r.parts) for c in chunks for r in c.hunks if r.path == fd.path
        ]
        # Every hunk, every part exactly once, in order.
        assert [(i, p) for i, p, _ in refs] == sorted({(i, p) for i, p, _ in refs})
        assert sorted({i for i, _, _ in refs}) == list(range(len(fd.hunks)))
        for i in range(len(fd.hunks)):
            parts = [(p, n) for j, p, n in refs if j == i]
            assert [p for p, _ in parts] == list(range(1, parts[0][1] + 1))
        # Every added line is shown in some chunk (nothing dropped).
        shown = set().union(*(c.lines_for(fd.path) for c in chunks)) if chunks else set()
        assert fd.added_lines() <= shown


yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 500),
    st.text(max_size=20),
    st.sampled_from(["high", "never", "gpt-4o", "src/**", "[", "!x"]),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
config_docs = st.dictionaries(
    st.sampled_from(["enabled", "paths", "review", "llm", "path_instructions", "other"]),
    st.one_of(
        yaml_values,
        st.fixed_dictionaries(
            {},
            optional={
                "include": yaml_values,
                "exclude": yaml_values,
                "min_severity": yaml_values,
                "fail_on": yaml_values,
                "max_comments": yaml_values,
                "language": yaml_values,
                "model": yaml_values,
                "provider": yaml_values,
            },
        ),
    ),
    max_size=5,
)


@SETTINGS
@given(
    st.one_of(
        config_docs.map(lambda d: yaml.safe_dump(d, allow_unicode=True)), st.text(max_size=200)
    )
)
def test_repo_config_never_raises(text: str) -> None:
    config, errors = load_repo_config(text, allowed_models=["gpt-4o"])
    assert isinstance(config, RepoConfig)
    assert all(isinstance(e, str) and e for e in errors)
    assert config.llm.model in (None, "gpt-4o")


@SETTINGS
@given(
    st.text(min_size=1, max_size=60),
    st.one_of(st.none(), st.binary(max_size=300), st.text(max_size=300)),
)
def test_file_filter_never_raises(path: str, content: bytes | str | None) -> None:
    reason = FileFilter(include=["**/*.py"], exclude=["!vendor/"]).skip_reason(
        path, content=content
    )
    assert reason is None or isinstance(reason, str)


diffish = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "@@ -1,2 +1,2 @@",
                "@@ -0,0 +1 @@",
                "@@ -3 +3,0 @@ f",
                "+a",
                "-b",
                " c",
                "\\ No newline at end of file",
                "diff --git a/x b/x",
                "--- a/x",
                "+++ b/x",
                "Binary files a/x and b/x differ",
                "new file mode 100644",
                "old mode 100644",
                "new mode 100755",
                "GIT binary patch",
                "",
                "\r",
            ]
        ),
        st.text(max_size=15),
    ),
    max_size=25,
).map("\n".join)


@SETTINGS
@given(diffish, st.sampled_from([None, "added", "removed", "renamed", "modified"]))
def test_parsing_never_raises_on_garbage(text: str, status: str | None) -> None:
    fd = parse_patch("x.py", text, old_path="o.py", status=status)
    assert fd.path == "x.py"
    if fd.no_patch_reason is None:
        for line in fd.commentable("new"):
            assert line >= 0
    fd2 = parse_patch("x.py", text.encode("utf-8", "surrogatepass") + b"\xff\xfe")
    assert fd2.path == "x.py"
    for f in parse_unified_diff(text):
        assert isinstance(f.path, str)


@SETTINGS
@given(pr(), st.integers(256, 1200), st.randoms(use_true_random=False))
def test_packing_is_deterministic_whatever_the_order(
    case: tuple[list[FileDiff], dict[str, str]], budget: int, rnd: random.Random
) -> None:
    """The same files in any order: the same chunks (texts and ids, hence cache keys),
    none over the budget, every hunk part exactly once."""
    files, contents = case
    first = build_chunks(files, contents, budget_tokens=budget, model="gpt-4o")
    shuffled = list(files)
    rnd.shuffle(shuffled)
    again = build_chunks(shuffled, contents, budget_tokens=budget, model="gpt-4o")
    assert [(c.id, c.text, c.hunks) for c in again] == [(c.id, c.text, c.hunks) for c in first]
    assert all(c.token_count <= budget for c in first)
    refs = [(r.path, r.hunk_index, r.part) for c in first for r in c.hunks]
    assert len(refs) == len(set(refs))  # nothing sent twice
    assert {(p, i) for p, i, _ in refs} == {
        (f.path, i) for f in files for i in range(len(f.hunks))
    }  # nothing dropped
