"""Forge-neutral pieces of publishing a review: checking comments against the diff before
sending them, and writing the comments a forge would not place into a body instead."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.diff.lines import hunk_index_of
from bot.diff.parse import FileDiff, parse_patch
from bot.forges.base import ChangedFile, InlineComment, comment_marker


def file_diffs(files: Iterable[ChangedFile]) -> dict[str, FileDiff]:
    return {
        f.path: parse_patch(f.path, f.patch, old_path=f.old_path, status=f.status)
        for f in files
        if f.patch
    }


def placeable(comment: InlineComment, diffs: Mapping[str, FileDiff]) -> bool:
    """Whether the forge will accept ``comment`` where it points: the line (and the range's
    first line) on a commentable line of the same hunk of the file's diff."""
    diff = diffs.get(comment.path)
    if diff is None:
        return False
    hunk = hunk_index_of(diff, comment.line, comment.side)
    if hunk is None:
        return False
    if comment.start_line is None or comment.start_line == comment.line:
        return True
    if comment.start_line > comment.line:
        return False
    return hunk_index_of(diff, comment.start_line, comment.side) == hunk


def split_placeable(
    comments: Iterable[InlineComment], diffs: Mapping[str, FileDiff]
) -> tuple[list[InlineComment], list[InlineComment]]:
    good: list[InlineComment] = []
    bad: list[InlineComment] = []
    for comment in comments:
        (good if placeable(comment, diffs) else bad).append(comment)
    return good, bad


def marked(comment: InlineComment) -> str:
    """The comment's body with its hidden key first, so a retried job can recognise it."""
    return f"{comment_marker(comment.key)}\n{comment.body}"


def where(comment: InlineComment) -> str:
    lines = (
        f"{comment.start_line}-{comment.line}"
        if comment.start_line and comment.start_line != comment.line
        else str(comment.line)
    )
    side = "" if comment.side == "new" else " (old side)"
    return f"`{comment.path}` line {lines}{side}"


def moved_section(comments: Iterable[InlineComment]) -> str:
    """Markdown listing comments that could not be placed on their lines."""
    items = [f"- {where(c)}\n\n{_indent(c.body)}" for c in comments]
    if not items:
        return ""
    return "\n\n### Findings on lines outside the diff\n\n" + "\n\n".join(items)


def _indent(text: str) -> str:
    return "\n".join(("  " + line) if line else line for line in text.splitlines())
