"""GitHub's file entries (of a pull request or a comparison) as our ChangedFile records.

GitHub leaves ``patch`` out for binary files and diffs too large to show
(docs.github.com/en/rest/pulls/pulls#list-pull-requests-files); such a file is rebuilt
from its two versions when they are small enough, else listed as skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.forges.base import ChangedFile, FileStatus, SkippedFile
from bot.forges.patches import complete_patch

_STATUS: dict[str, FileStatus] = {
    "added": "added",
    "removed": "removed",
    "modified": "modified",
    "renamed": "renamed",
    "copied": "added",
    "changed": "modified",
    "unchanged": "modified",
}


async def files_from_entries(
    entries: Sequence[Any],
    *,
    base_sha: str,
    head_sha: str,
    read: Callable[[str, str], Awaitable[bytes | None]],
    max_file_bytes: int,
) -> tuple[tuple[ChangedFile, ...], tuple[SkippedFile, ...]]:
    """``entries`` are githubkit's DiffEntry models (read by attribute only)."""
    files: list[ChangedFile] = []
    skipped: list[SkippedFile] = []
    for entry in entries:
        status = _STATUS.get(entry.status, "modified")
        old_path = (entry.previous_filename or None) if status == "renamed" else None
        patch = entry.patch or None
        binary = False
        if patch is None and entry.changes:
            made = await complete_patch(
                read,
                forge="GitHub",
                path=entry.filename,
                old_path=old_path or entry.filename,
                status=status,
                base_sha=base_sha,
                head_sha=head_sha,
                max_bytes=max_file_bytes,
            )
            if isinstance(made, SkippedFile):
                skipped.append(made)
                continue
            patch, binary = made
        elif patch is None:
            patch = ""  # a pure rename or a mode change: nothing to show
        files.append(
            ChangedFile(
                path=entry.filename,
                status=status,
                old_path=old_path,
                patch=patch,
                additions=entry.additions,
                deletions=entry.deletions,
                binary=binary,
                sha=entry.sha or None,
            )
        )
    return tuple(files), tuple(skipped)
