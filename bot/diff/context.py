"""Each hunk with the code a reviewer needs around it, rendered for the model.

The line format is one the model can repeat back exactly::

    @@ src/app.py  hunk 2/3  new lines 40-52  in function_definition `def load(path):` @@
       12 . def load(path):
       ...
       38 .     data = read(path)
       40 +     if not data:
          -     if data is None:
       41       return parse(data)

Every new-side line carries its new-file number; ``+`` is added, ``-`` removed (no new
number: it no longer exists), a blank mark is unchanged inside the hunk and ``.`` is
surrounding code shown only for context (outside the diff, so not commentable). ``...``
marks skipped lines. The enclosing function or class comes from tree-sitter; a file it
cannot parse (or whose scope is too long) gets ``context_lines`` lines on each side.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from bot.diff.parse import FileDiff, Hunk
from bot.diff.scopes import Scope, ScopeIndex

DEFAULT_CONTEXT_LINES = 5
DEFAULT_MAX_SCOPE_LINES = 60
# tree-sitter parses 5-8 MB/s here while holding the GIL: a bigger file gets fixed lines.
MAX_PARSE_CHARS = 512_000
_NUM_WIDTH = 5
_GAP = f"{'':>{_NUM_WIDTH}} ..."


class ShownLine(NamedTuple):
    """One rendered line; ``new_lineno`` None for removed lines and ``...`` gaps."""

    mark: str  # "+", "-", " ", "." or "…" for a gap
    text: str
    new_lineno: int | None
    old_lineno: int | None = None

    def render(self) -> str:
        if self.mark == "…":
            return _GAP
        num = "" if self.new_lineno is None else str(self.new_lineno)
        return f"{num:>{_NUM_WIDTH}} {self.mark} {self.text}".rstrip()


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
    """A hunk of ``path`` with its context, ready to render or split."""

    path: str
    hunk_index: int
    hunk_count: int
    hunk: Hunk
    scope: Scope | None
    scope_title: str | None
    around: Around | None  # None: the hunk's own lines only

    @property
    def lines(self) -> tuple[ShownLine, ...]:
        """Every line shown, in order (built on demand: rendering does not need them)."""
        body = [ShownLine(ln.kind, ln.text, ln.new_lineno, ln.old_lineno) for ln in self.hunk.lines]
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

    def header(self, part: tuple[int, int] | None = None) -> str:
        rng = self.hunk.new_range
        where = (
            f"new lines {rng[0]}-{rng[1]}"
            if rng
            else f"deletion after line {self.hunk.target_start}"
        )
        head = f"@@ {printable(self.path)}  hunk {self.hunk_index + 1}/{self.hunk_count}  {where}"
        if part is not None:
            head += f"  part {part[0]}/{part[1]}"
        if self.scope is not None and self.scope_title:
            title = printable(self.scope_title).replace("`", "'").replace("@@", "@ @")
            head += f"  in {self.scope.kind} `{title}`"
        return head + " @@"

    def render(self) -> str:
        """``header()`` and every line of ``lines`` rendered, without building ``lines``.

        Same text as ``ShownLine.render`` gives; this formats straight from the hunk and
        the content (the width 5 is ``_NUM_WIDTH``).
        """
        out = [self.header()]
        a = self.around
        if a is not None:
            content = a.content
            if a.title is not None:
                out.append(f"{a.title:>5} . {content[a.title - 1]}".rstrip())
                if a.gap:
                    out.append(_GAP)
            out += [f"{k:>5} . {content[k - 1]}".rstrip() for k in a.before]
        out += [
            f"{'' if new is None else new:>5} {kind} {text}".rstrip()
            for kind, text, _, new in self.hunk.lines
        ]
        if a is not None:
            out += [f"{k:>5} . {content[k - 1]}".rstrip() for k in a.after]
        return "\n".join(out)


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
        scope = _scope_for(index, hunk, max_scope_lines)
        views.append(
            HunkView(
                path=file.path,
                hunk_index=i,
                hunk_count=count,
                hunk=hunk,
                scope=scope,
                scope_title=_title(lines, scope),
                around=_around(hunk, lines, scope, context_lines, max_scope_lines),
            )
        )
    return views


def _scope_for(index: ScopeIndex | None, hunk: Hunk, max_lines: int) -> Scope | None:
    if index is None:
        return None
    rng = hunk.new_range or (max(hunk.target_start, 1), max(hunk.target_start, 1))
    scopes = index.enclosing(*rng)
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
    hunk: Hunk,
    content: Sequence[str] | None,
    scope: Scope | None,
    context_lines: int,
    max_scope_lines: int,
) -> Around | None:
    if content is None:
        return None
    n = len(content)
    first = hunk.target_start if hunk.target_length else hunk.target_start + 1
    last = hunk.target_start + hunk.target_length - 1 if hunk.target_length else hunk.target_start
    before_from = max(1, first - context_lines)
    after_to = min(n, last + context_lines)
    title: int | None = None
    if scope is not None:
        if scope.end - scope.start + 1 <= max_scope_lines:
            before_from = min(before_from, scope.start)
            after_to = max(after_to, min(scope.end, n))
        elif scope.start < before_from and scope.start <= n:
            title = scope.start
    gap = title is not None and title + 1 < before_from
    return Around(
        content, title, gap, range(before_from, min(first, n + 1)), range(last + 1, after_to + 1)
    )
