"""Placing a finding's line range on lines the forges accept an inline comment on.

GitHub and GitLab accept a comment only on lines inside a hunk (new side: added and
context lines; old side: removed lines), and a multi-line comment must stay within one
hunk. A range that does not fit is clipped; a range with no commentable line goes to
the summary (the caller decides how).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from bot.diff.parse import FileDiff, Side


def place_range(file: FileDiff, start: int, end: int, side: Side = "new") -> tuple[int, int] | None:
    """Clip ``start..end`` (inclusive, swapped if reversed) into ONE hunk's commentable lines.

    The hunk chosen is the one whose commentable lines hold ``start``; when ``start`` is
    not commentable, the hunk holding the most lines of the range (the earliest on a
    tie), because the model's first line is its anchor and, failing that, the bulk of
    the range is what the finding is about. Returns the first and last commentable line
    of the range inside that hunk, or None when no line of the range is commentable.
    On the old side the lines between the two ends may include context lines: the
    forges accept such a range because both ends are in the diff.
    """
    if start > end:
        start, end = end, start
    best: tuple[int, int] | None = None
    best_count = 0
    for hunk in file.hunks:
        lines = hunk.commentable(side)
        if not lines:
            continue
        lo = bisect_left(lines, start)
        hi = bisect_right(lines, end)
        count = hi - lo
        if count == 0:
            continue
        clipped = (lines[lo], lines[hi - 1])
        if lines[lo] == start:
            return clipped
        if count > best_count:
            best, best_count = clipped, count
    return best


def is_commentable(file: FileDiff, line: int, side: Side = "new") -> bool:
    return line in file.commentable(side)


def hunk_index_of(file: FileDiff, line: int, side: Side = "new") -> int | None:
    """Index of the hunk whose commentable lines hold ``line``, if any."""
    for i, hunk in enumerate(file.hunks):
        lines = hunk.commentable(side)
        j = bisect_left(lines, line)
        if j < len(lines) and lines[j] == line:
            return i
    return None
