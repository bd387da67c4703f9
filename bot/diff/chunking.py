"""Packing hunks with their context into chunks that fit the model's token budget.

Rules (so a review sends few calls, nothing is lost, and the same files always give the
same chunks, hence the same cache keys):

* Files are taken in a fixed order that depends only on their paths: security-sensitive
  paths first (so they are sent first), then the others, each in path order. The order in
  which a forge lists the files never matters.
* A file that fits the budget is one unit, all its hunks together under one header. A
  file that does not is split at hunk boundaries (greedy, in hunk order); a hunk that
  alone does not fit is split at line boundaries with ``overlap_lines`` lines repeated.
* Units are packed greedily, in that order, into chunks up to ``budget_tokens``: a chunk's
  membership depends only on the set of files (their paths and texts), so an unchanged
  set gives the same chunks, and a push's incremental set is packed the same way.
* Nothing is dropped: every hunk of every file with hunks lands in at least one chunk
  and the caller decides how many to send. No chunk exceeds ``budget_tokens``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from bot.diff.context import (
    DEFAULT_CONTEXT_LINES,
    DEFAULT_MAX_SCOPE_LINES,
    GAP,
    HunkView,
    ShownLine,
    hunk_views,
    printable,
)
from bot.diff.parse import FileDiff
from bot.diff.sensitive import is_sensitive_path
from bot.diff.tokens import count_many, count_tokens

# Tokens a join of two pieces may add at their boundary: BPE is not exactly additive
# (about 2 tokens), times the foreign-model safety factor, rounded up.
_JOIN_MARGIN = 3
_GAP_TOKENS = 2  # a "..." line between two pieces of one file
_FILES_PER_BATCH = 128
MIN_BUDGET = 256  # below this the file and hunk headers alone may not fit


@dataclass(frozen=True, slots=True)
class HunkRef:
    """Which part of which hunk a chunk covers (new-side lines of the hunk shown)."""

    path: str
    hunk_index: int
    new_start: int | None
    new_end: int | None
    part: int = 1
    parts: int = 1


@dataclass(frozen=True)
class Chunk:
    """What one model call sees. ``shown_lines`` holds the new-side numbers per path."""

    id: str
    paths: tuple[str, ...]
    text: str
    hunks: tuple[HunkRef, ...]
    token_count: int
    shown_lines: Mapping[str, frozenset[int]] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.id)

    def lines_for(self, path: str) -> frozenset[int]:
        return self.shown_lines.get(path, frozenset())

    @property
    def sensitive(self) -> bool:
        return any(is_sensitive_path(p) for p in self.paths)


@dataclass
class _Piece:
    """A rendered block (one hunk or one part of one) with what it shows."""

    path: str
    text: str
    tokens: int
    refs: tuple[HunkRef, ...]
    shown: frozenset[int]
    view: HunkView | None = None  # a whole hunk, whose context lines may be dropped
    context: frozenset[int] = frozenset()  # numbers of its "." lines


@dataclass
class _Unit:
    """One file's pieces under its file header: a chunk on its own or in a group.

    ``tokens`` is an upper bound: exact counts of the header and each piece plus a join
    margin for each, so the chunk's text never costs more.
    """

    path: str
    header: str
    header_tokens: int
    pieces: list[_Piece]

    @property
    def tokens(self) -> int:
        return self.header_tokens + _JOIN_MARGIN + sum(
            p.tokens + _JOIN_MARGIN + _GAP_TOKENS for p in self.pieces
        )

    def render(self, model: str | None) -> tuple[str, int]:
        """The unit's text and an upper bound of its tokens.

        Pieces that show disjoint lines are joined as they are, with ``...`` where lines
        are skipped. Pieces that overlap (two hunks of one function: each shows the whole
        function) are merged line by line, so every line is said once, in file order, a
        changed line winning over the same line shown as context; that text is counted
        again (so ``token_count`` stays close to the real count, not just under it).
        """
        shown = [p.shown for p in self.pieces]
        overlap = any(a & b for i, a in enumerate(shown) for b in shown[i + 1 :])
        if overlap and all(p.view is not None for p in self.pieces):
            body = _merged([p.view for p in self.pieces if p.view is not None])
            return "\n".join([self.header, body]), (
                self.header_tokens + _JOIN_MARGIN + count_tokens(body, model) + _JOIN_MARGIN
            )
        out = [self.header]
        tokens = self.header_tokens + _JOIN_MARGIN
        last: int | None = None
        for p in self.pieces:
            if last is not None and p.shown and last + 1 < min(p.shown):
                out.append(GAP)  # skipped lines between two hunks of the file
                tokens += _GAP_TOKENS
            out.append(p.text)
            tokens += p.tokens + _JOIN_MARGIN
            last = max(p.shown, default=last)
        return "\n".join(out), tokens


@dataclass
class _Options:
    budget: int
    model: str | None
    context_lines: int
    max_scope_lines: int
    overlap_lines: int
    scopes: bool


def build_chunks(
    files: Sequence[FileDiff],
    contents: Mapping[str, str],
    *,
    budget_tokens: int,
    model: str | None = None,
    context_lines: int = DEFAULT_CONTEXT_LINES,
    max_scope_lines: int = DEFAULT_MAX_SCOPE_LINES,
    overlap_lines: int = 3,
    scopes: bool = True,
) -> list[Chunk]:
    """Chunks for all files with hunks, sensitive paths first (see the module doc).

    ``contents`` maps a path to its text at the head commit (for context); a missing path
    gets only its hunk lines. Files without hunks (binary, no patch) yield no chunk: the
    caller lists them from ``FileDiff.no_patch_reason``. ``scopes`` False skips tree-sitter
    (fixed context lines only: faster on huge PRs). ``Chunk.token_count`` is an
    upper bound of the text's tokens with ``model`` (exact counts of its parts plus a few
    tokens per join), never above ``budget_tokens``.
    """
    if budget_tokens < MIN_BUDGET:
        raise ValueError(f"budget_tokens must be at least {MIN_BUDGET}, got {budget_tokens}")
    opts = _Options(budget_tokens, model, context_lines, max_scope_lines, overlap_lines, scopes)
    targets = sorted((f for f in files if f.hunks), key=packing_key)
    chunks: list[Chunk] = []
    group: list[_Unit] = []
    used = 0
    for _, units in _units(targets, contents, opts):
        for unit in units:
            cost = unit.tokens + (_JOIN_MARGIN if group else 0)
            if group and used + cost > budget_tokens:
                chunks.extend(_emit_group(group, opts))
                group, used, cost = [], 0, unit.tokens
            group.append(unit)
            used += cost
    chunks.extend(_emit_group(group, opts))
    return chunks


def packing_key(f: FileDiff) -> tuple[bool, str]:
    """Sensitive paths first, then path order: the only order packing ever uses."""
    return (not is_sensitive_path(f.path), f.path)


def _units(
    targets: list[FileDiff], contents: Mapping[str, str], opts: _Options
) -> Iterator[tuple[FileDiff, list[_Unit]]]:
    """Each file's units, in order; texts are counted in batches of files.

    A thread counts one batch while this one renders the next: tiktoken releases the GIL
    for the whole of a ``count_many`` call, so on two cores counting runs beside
    tree-sitter and rendering instead of after them. Batches (rather than the whole PR
    at once) keep the memory bounded.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="count-tokens") as counter:
        ahead: _Batch | None = None
        for i in range(0, len(targets), _FILES_PER_BATCH):
            batch = _render_batch(targets[i : i + _FILES_PER_BATCH], contents, opts, counter)
            if ahead is not None:
                yield from ahead.units(opts)
            ahead = batch
        if ahead is not None:
            yield from ahead.units(opts)


@dataclass
class _Batch:
    """Some files' hunk views, their texts, and the count of those texts (running)."""

    files: list[FileDiff]
    views: list[list[HunkView]]
    texts: list[str]
    counts: Future[list[int]]

    def units(self, opts: _Options) -> Iterator[tuple[FileDiff, list[_Unit]]]:
        counted = iter(zip(self.texts, self.counts.result(), strict=True))
        for f, views in zip(self.files, self.views, strict=True):
            pieces = [_piece(v, *next(counted)) for v in views]
            _, header_tokens = next(counted)
            yield f, _file_units(f, views, pieces, header_tokens, opts)


def _render_batch(
    files: list[FileDiff], contents: Mapping[str, str], opts: _Options, counter: Executor
) -> _Batch:
    views = [
        hunk_views(
            f,
            contents.get(f.path),
            context_lines=opts.context_lines,
            max_scope_lines=opts.max_scope_lines,
            scopes=opts.scopes,
        )
        for f in files
    ]
    # Each file's hunks, then its header: the order ``_Batch.units`` reads them back.
    texts: list[str] = []
    for f, vs in zip(files, views, strict=True):
        texts += [v.render() for v in vs]
        texts.append(_file_header(f))
    return _Batch(files, views, texts, counter.submit(count_many, texts, opts.model))


def sending_order(chunks: Sequence[Chunk]) -> list[Chunk]:
    """Chunks touching security-sensitive paths first; otherwise the given order kept."""
    return sorted(chunks, key=lambda c: not c.sensitive)


def _file_header(f: FileDiff, part: tuple[int, int] | None = None) -> str:
    bits: list[str] = [f.status]
    if f.old_path:
        bits.append(f"from {printable(f.old_path)}")
    if f.mode_changed:
        bits.append(f"mode {f.old_mode} -> {f.new_mode}")
    if part is not None:
        bits.append(f"part {part[0]}/{part[1]}")
    return f"### {printable(f.path)} ({', '.join(bits)})"


def _piece(view: HunkView, text: str, tokens: int) -> _Piece:
    """A whole hunk's piece; what it shows comes from the hunk and the context ranges."""
    body = [ln.new_lineno for ln in view.body if ln.new_lineno is not None]
    context = view.around.numbers() if view.around is not None else frozenset()
    ref = HunkRef(view.path, view.hunk_index, min(body, default=None), max(body, default=None))
    return _Piece(view.path, text, tokens, (ref,), context.union(body), view, context)


def _file_units(
    f: FileDiff,
    views: list[HunkView],
    pieces: list[_Piece],
    header_tokens: int,
    opts: _Options,
) -> list[_Unit]:
    whole = _Unit(f.path, _file_header(f), header_tokens, pieces)
    if whole.tokens <= opts.budget:
        return [whole]
    # Split at hunk boundaries; the header of a part carries "part k/n" (room for 4 digits).
    part_header_tokens = count_tokens(_file_header(f, (9999, 9999)), opts.model)
    room = opts.budget - part_header_tokens - _JOIN_MARGIN
    groups: list[list[_Piece]] = []
    current: list[_Piece] = []
    used = 0
    for view, piece in zip(views, pieces, strict=True):
        cost = piece.tokens + _JOIN_MARGIN
        if cost > room:
            # Too big with its context: try the bare hunk, then cut it at line boundaries.
            bare = replace(view, around=None)
            bare_text = bare.render()
            bare_piece = _piece(bare, bare_text, count_tokens(bare_text, opts.model))
            if bare_piece.tokens + _JOIN_MARGIN <= room:
                piece, cost = bare_piece, bare_piece.tokens + _JOIN_MARGIN
            else:
                if current:
                    groups.append(current)
                    current, used = [], 0
                groups.extend([p] for p in _split_hunk(bare, room, opts))
                continue
        if current and used + cost > room:
            groups.append(current)
            current, used = [], 0
        current.append(piece)
        used += cost
    if current:
        groups.append(current)
    n = len(groups)
    return [
        _Unit(f.path, _file_header(f, (i + 1, n)), part_header_tokens, g)
        for i, g in enumerate(groups)
    ]


def _split_hunk(view: HunkView, room: int, opts: _Options) -> list[_Piece]:
    """Parts of one hunk that does not fit, cut at line boundaries with overlap."""
    avail = max(room - _JOIN_MARGIN, 8)
    lines = _fit_lines(list(view.lines), avail, opts.model)
    costs = count_many([ln.render() for ln in lines], opts.model)
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(lines):
        used = 0
        end = start
        while end < len(lines) and used + costs[end] + 1 <= avail:
            used += costs[end] + 1
            end += 1
        end = max(end, start + 1)
        spans.append((start, end))
        if end >= len(lines):
            break
        # Overlap, but always move forward.
        start = max(end - opts.overlap_lines, start + 1)
    n = len(spans)
    pieces: list[_Piece] = []
    for k, (a, b) in enumerate(spans):
        part = lines[a:b]
        text = "\n".join(ln.render() for ln in part)
        ref = _ref(view, part, (k + 1, n))
        pieces.append(_Piece(view.path, text, count_tokens(text, opts.model), (ref,), _shown(part)))
    return pieces


def _fit_lines(lines: list[ShownLine], avail: int, model: str | None) -> list[ShownLine]:
    """Cut any single line too long for a part into slices with the same number."""
    costs = count_many([ln.render() for ln in lines], model)
    out: list[ShownLine] = []
    for ln, cost in zip(lines, costs, strict=True):
        if cost + 1 <= avail:
            out.append(ln)
            continue
        text = ln.text
        # Roughly avail/4 tokens per slice keeps each slice far from the limit.
        step = max(1, len(text) * max(avail // 4, 1) // max(cost, 1))
        for i in range(0, len(text), step):
            out.append(ShownLine(ln.mark, text[i : i + step], ln.new_lineno, ln.old_lineno))
    return out


def _ref(view: HunkView, lines: Sequence[ShownLine], part: tuple[int, int] = (1, 1)) -> HunkRef:
    nums = [ln.new_lineno for ln in lines if ln.mark in "+ " and ln.new_lineno is not None]
    return HunkRef(
        view.path,
        view.hunk_index,
        min(nums, default=None),
        max(nums, default=None),
        part[0],
        part[1],
    )


def _shown(lines: Sequence[ShownLine]) -> frozenset[int]:
    return frozenset(ln.new_lineno for ln in lines if ln.new_lineno is not None)


def _emit_group(units: list[_Unit], opts: _Options) -> list[Chunk]:
    if not units:
        return []
    tokens = sum(u.tokens for u in units) + _JOIN_MARGIN * (len(units) - 1)
    if tokens > opts.budget:
        if len(units) > 1:
            mid = len(units) // 2
            return _emit_group(units[:mid], opts) + _emit_group(units[mid:], opts)
        raise ValueError(
            f"budget_tokens={opts.budget} cannot hold even one line of {units[0].path} with "
            f"its headers ({tokens} tokens); use a larger budget"
        )
    rendered = [u.render(opts.model) for u in units]
    text = "\n\n".join(t for t, _ in rendered)
    tokens = sum(n for _, n in rendered) + _JOIN_MARGIN * (len(units) - 1)
    shown: dict[str, frozenset[int]] = {}
    for u in units:
        for p in u.pieces:
            shown[p.path] = shown.get(p.path, frozenset()) | p.shown
    return [
        Chunk(
            id=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
            paths=tuple(dict.fromkeys(u.path for u in units)),
            text=text,
            hunks=tuple(r for u in units for p in u.pieces for r in p.refs),
            token_count=tokens,
            shown_lines=shown,
        )
    ]


def _merged(views: Sequence[HunkView]) -> str:
    """The lines of overlapping hunk views of one file, each once, in file order: a new-side
    line by its number (a changed or unchanged line of a hunk wins over context), removed
    lines just before the new line that follows them."""
    best: dict[int, ShownLine] = {}
    removed: dict[int, list[ShownLine]] = {}
    for view in views:
        pending: list[ShownLine] = []
        last = 0
        for ln in view.lines:
            if ln.mark == "…":
                continue
            if ln.new_lineno is None:
                pending.append(ln)
                continue
            last = ln.new_lineno
            if pending:
                removed.setdefault(last, []).extend(pending)
                pending = []
            current = best.get(last)
            if current is None or current.mark == ".":
                best[last] = ln
        if pending:
            removed.setdefault(last + 1, []).extend(pending)
    out: list[str] = []
    previous: int | None = None
    for number in sorted(set(best) | set(removed)):
        if previous is not None and number > previous + 1:
            out.append(GAP)
        out += [ln.render() for ln in removed.get(number, ())]
        if number in best:
            out.append(best[number].render())
            previous = number
        else:
            previous = number - 1
    return "\n".join(out)
