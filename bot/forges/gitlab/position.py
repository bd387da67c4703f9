"""GitLab diff positions for inline discussions, computed from the MR file's patch.

docs.gitlab.com/api/discussions/#create-a-new-thread-in-the-merge-request-diff: a text
position names the three SHAs of the MR version, ``old_path`` and ``new_path`` (both,
always), ``new_line`` for an added line, ``old_line`` for a removed line and both for an
unchanged line; a multi-line comment adds ``line_range`` whose ends carry a ``line_code``
(``sha1(path)_old_new``) and a ``type`` (``new`` for added lines, otherwise ``old``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from bot.forges.base import InlineComment

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class DiffRow:
    kind: str  # "+", "-" or " "
    old: int  # the old-file counter at this row (GitLab's old_pos, also for added rows)
    new: int


@dataclass(frozen=True)
class Refs:
    base_sha: str
    start_sha: str
    head_sha: str


def rows(patch: str) -> list[tuple[int, DiffRow]]:
    """``(hunk index, row)`` for every body line of the patch."""
    out: list[tuple[int, DiffRow]] = []
    hunk = -1
    old = new = 0
    for line in patch.splitlines():
        header = _HUNK.match(line)
        if header:
            hunk += 1
            old, new = int(header.group(1)), int(header.group(2))
            continue
        if hunk < 0 or line.startswith("\\"):
            continue
        kind = line[:1] if line[:1] in {"+", "-"} else " "
        out.append((hunk, DiffRow(kind, old, new)))
        if kind != "+":
            old += 1
        if kind != "-":
            new += 1
    return out


def _find(table: list[tuple[int, DiffRow]], line: int, side: str) -> tuple[int, DiffRow] | None:
    for hunk, row in table:
        if side == "new" and row.kind != "-" and row.new == line:
            return hunk, row
        if side == "old" and row.kind != "+" and row.old == line:
            return hunk, row
    return None


def _lines(row: DiffRow) -> dict[str, int]:
    if row.kind == "+":
        return {"new_line": row.new}
    if row.kind == "-":
        return {"old_line": row.old}
    return {"old_line": row.old, "new_line": row.new}


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _end(path: str, row: DiffRow) -> dict[str, Any]:
    return {
        # GitLab's own format: SHA-1 of the path as a name, not for security.
        "line_code": f"{_sha1(path)}_{row.old}_{row.new}",
        "type": "new" if row.kind == "+" else "old",
        **_lines(row),
    }


def position(
    comment: InlineComment, patch: str, old_path: str | None, refs: Refs
) -> dict[str, Any] | None:
    """The ``position`` object for ``comment``, or None when its lines are not in the diff."""
    table = rows(patch)
    end = _find(table, comment.line, comment.side)
    if end is None:
        return None
    data: dict[str, Any] = {
        "position_type": "text",
        "base_sha": refs.base_sha,
        "start_sha": refs.start_sha,
        "head_sha": refs.head_sha,
        "old_path": old_path or comment.path,
        "new_path": comment.path,
        **_lines(end[1]),
    }
    if comment.start_line is not None and comment.start_line < comment.line:
        start = _find(table, comment.start_line, comment.side)
        if start is None or start[0] != end[0]:
            return None
        data["line_range"] = {
            "start": _end(comment.path, start[1]),
            "end": _end(comment.path, end[1]),
        }
    return data
