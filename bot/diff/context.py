"""Each hunk with the code a reviewer needs around it, rendered for the model.

The line format is one the model can repeat back exactly, and says each thing once (the
file header names the path; every line carries its own number)::

    4. def load(path):
    5.     data = read(path)
    6+     if not data:
    -     if data is None:
    7      return parse(data)

``NN+`` is an added line, ``NN `` unchanged inside the hunk and ``NN.`` surrounding code
shown only for context (outside the diff, so not commentable); ``-`` is a removed line (no
new number: it no longer exists); ``...`` marks skipped lines. The code after the marker
and one space is the line byte for byte. Around a hunk the reviewer sees its enclosing
function or class whole (from tree-sitter; a sanitiser earlier in the function stays in
view) and nothing beyond it; where there is none, or the scope is too long to show,
``context_lines`` lines on each side (a too-long scope's first line is kept as a title).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from bot.diff.parse import DiffLine, FileDiff, Hunk
from bot.diff.scopes import Scope, ScopeIndex

DEFAULT_CONTEXT_LINES = 3
DEFAULT_MAX_SCOPE_LINES = 60
# tree-sitter parses 5-8 MB/s here while holding the GIL: a bigger file gets fixed lines.
MAX_PARSE_CHARS = 512_000
GAP = "..."


class ShownLine(NamedTuple):
    """One rendered line; ``new_lineno`` None for removed lines and ``...`` gaps."""

    mark: str  # "+", "-", " ", "." or "…" for a gap
    text: str
    new_lineno: int | None
    old_lineno: int | None = None

    def render(self) -> str:
        if self.mark == "…":
            return GAP
        return line_text(self.mark, self.text, self.new_lineno)


def line_text(mark: str, text: str, number: int | None) -> str:
    """One numbered line: ``12+ code``; a removed line ``- code``; the code untouched."""
    head = f"{'' if number is None else number}{mark}"
    return f"{head} {text}" if text else head


@dataclass(frozen=True, slots=True)
class Around:
    """Where a hunk's context lines come from: 1-based numbers into ``content``.

    Ranges rather than ShownLines: a big PR shows hundreds of thousands of context
    lines, and almost all are only rendered once (see ``HunkView.render``).
    """

    content: Sequence[str]
    title: int | None  # first line of a scope too long to show whole
    gap: bool  # a "..." between ``title`` and ``before``
    before: range
    after: range

    def numbers(self) -> frozenset[int]:
        """New-side numbers of the context lines."""
        title = () if self.title is None else (self.title,)
        return frozenset(itertools.chain(title, self.before, self.after))


@dataclass(frozen=True, slots=True)
class HunkView:
    """A hunk of ``path`` with its context, ready to render or split.

    ``body`` is the part of the hunk's own lines shown: every changed line, and of git's
    unchanged lines around them only those inside the enclosing scope (or within
    ``context_lines`` where there is none).
    """

    path: str
    hunk_index: int
    hunk_count: int
    hunk: Hunk
    scope: Scope | None
    scope_title: str | None
    around: Around | None  # None: the body only
    body: tuple[DiffLine, ...] = ()

    @property
    def lines(self) -> tuple[ShownLine, ...]:
        """Every line shown, in order (built on demand: rendering does not need them)."""
        body = [ShownLine(ln.kind, ln.text, ln.new_lineno, ln.old_lineno) for ln in self.body]
        a = self.around
        if a is None:
            return tuple(body)
        out: list[ShownLine] = []
        if a.title is not None:
            out.append(ShownLine(".", a.content[a.title - 1], a.title))
            if a.gap:
                out.append(ShownLine("…", "", None))
        out.extend(ShownLine(".", a.content[k - 1], k) for k in a.before)
        out.extend(body)
        out.extend(ShownLine(".", a.content[k - 1], k) for k in a.after)
        return tuple(out)

    def render(self) -> str:
        """Every line of ``lines`` rendered, without building ``lines`` (same text)."""
        out: list[str] = []
        a = self.around
        if a is not None:
            content = a.content
            if a.title is not None:
                out.append(line_text(".", content[a.title - 1], a.title))
                if a.gap:
                    out.append(GAP)
            out += [line_text(".", content[k - 1], k) for k in a.before]
        out += [line_text(kind, text, new) for kind, text, _, new in self.body]
        if a is not None:
            out += [line_text(".", content[k - 1], k) for k in a.after]
        return "\n".join(out)

    def first_line(self) -> int | None:
        numbers = [ln.new_lineno for ln in self.lines if ln.new_lineno is not None]
        return min(numbers, default=None)


def printable(text: str) -> str:
    """``text`` with control characters escaped, for the structural lines of a chunk.

    File names and scope titles come from the PR author; git allows a newline in a file
    name, which would otherwise let a name forge a header or a numbered line.
    """
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"
        for ch in text
    )


def split_content(content: str | None) -> list[str] | None:
    """File content as new-side lines (index 0 is line 1); git counts only ``\\n``."""
    if content is None:
        return None
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if "\r" not in content:  # one C scan spares a Python pass over every line
        return lines
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def hunk_views(
    file: FileDiff,
    content: str | None,
    *,
    context_lines: int = DEFAULT_CONTEXT_LINES,
    max_scope_lines: int = DEFAULT_MAX_SCOPE_LINES,
    scopes: bool = True,
) -> list[HunkView]:
    """One :class:`HunkView` per hunk of ``file``, with context from ``content`` (head).

    ``scopes`` False skips tree-sitter (fixed context lines only).
    """
    lines = split_content(content) if file.status != "removed" else None
    parse = scopes and content and lines is not None and len(content) <= MAX_PARSE_CHARS
    index = ScopeIndex.build(file.path, content) if parse and content else None
    views: list[HunkView] = []
    count = len(file.hunks)
    for i, hunk in enumerate(file.hunks):
        lo, hi = _changed(hunk)
        n = len(lines) if lines is not None else None
        scope = _scope_for(index, lo, hi, n, max_scope_lines)
        fits = scope is not None and scope.end - scope.start + 1 <= max_scope_lines
        if scope is not None and fits:
            window = (min(scope.start, lo), max(scope.end, hi))
        else:
            window = (lo - context_lines, hi + context_lines)
        body = tuple(
            ln for ln in hunk.lines
            if ln.kind != " " or (ln.new_lineno is not None
                                  and window[0] <= ln.new_lineno <= window[1])
        )
        title = scope.start if scope is not None and not fits else None
        views.append(
            HunkView(
                path=file.path,
                hunk_index=i,
                hunk_count=count,
                hunk=hunk,
                scope=scope,
                scope_title=_title(lines, scope),
                around=_around(lines, body, lo, window, title),
                body=body,
            )
        )
    return views


def _changed(hunk: Hunk) -> tuple[int, int]:
    """First and last new-side position of the hunk's changes (a removed line sits where
    the next new line is)."""
    last_new = hunk.target_start - 1 if hunk.target_length else hunk.target_start
    at: list[int] = []
    for ln in hunk.lines:
        if ln.new_lineno is not None:
            last_new = ln.new_lineno
        if ln.kind == "+":
            at.append(last_new)
        elif ln.kind == "-":
            at.append(last_new + 1)
    if not at:
        rng = hunk.new_range or (max(hunk.target_start, 1), max(hunk.target_start, 1))
        return rng
    return max(min(at), 1), max(max(at), 1)


def _scope_for(
    index: ScopeIndex | None, lo: int, hi: int, n: int | None, max_lines: int
) -> Scope | None:
    if index is None or not n:
        return None
    scopes = index.enclosing(min(lo, n), min(hi, n))
    if not scopes:
        return None
    # The innermost scope that still fits is shown whole; a too-long one only titles.
    for scope in reversed(scopes):
        if scope.end - scope.start + 1 <= max_lines:
            return scope
    return scopes[-1]


def _title(lines: Sequence[str] | None, scope: Scope | None) -> str | None:
    if lines is None or scope is None or scope.start > len(lines):
        return None
    title = lines[scope.start - 1].strip()
    return title[:120] if title else None


def _around(
    content: Sequence[str] | None,
    body: Sequence[DiffLine],
    lo: int,
    window: tuple[int, int],
    title: int | None,
) -> Around | None:
    """The context lines outside the hunk's body, within ``window`` (1-based, inclusive)."""
    if content is None:
        return None
    n = len(content)
    shown = [ln.new_lineno for ln in body if ln.new_lineno is not None]
    first, last = (min(shown), max(shown)) if shown else (lo, lo - 1)
    before = range(max(1, window[0]), min(first, n + 1))
    after = range(last + 1, min(window[1], n) + 1)
    start = before.start if before else first
    if title is not None and (title >= start or title > n):
        title = None
    gap = title is not None and title + 1 < start
    return Around(content, title, gap, before, after)
