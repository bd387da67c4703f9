"""GitLab's diff items (of an MR version or a comparison) as our ChangedFile records.

Items: docs.gitlab.com/api/merge_requests/#list-merge-request-diffs. GitLab sends an
empty ``diff`` for binary files and for diffs it marks ``too_large`` or ``collapsed``;
such a file is rebuilt from its two versions when they are small enough, else skipped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.forges.base import ChangedFile, FileStatus, SkippedFile
from bot.forges.patches import complete_patch


def status_of(item: dict[str, Any]) -> FileStatus:
    if item.get("new_file"):
        return "added"
    if item.get("deleted_file"):
        return "removed"
    return "renamed" if item.get("renamed_file") else "modified"


async def files_from_diffs(
    diffs: Sequence[dict[str, Any]],
    *,
    base_sha: str,
    head_sha: str,
    read: Callable[[str, str], Awaitable[bytes | None]],
    max_file_bytes: int,
) -> tuple[tuple[ChangedFile, ...], tuple[SkippedFile, ...]]:
    files: list[ChangedFile] = []
    skipped: list[SkippedFile] = []
    for item in diffs:
        status = status_of(item)
        path = item["new_path"]
        old_path = item["old_path"] if status == "renamed" else None
        patch: str | None = item.get("diff") or ""
        binary = False
        missing = item.get("too_large") or item.get("collapsed")
        if missing or (patch == "" and status != "renamed"):
            made = await complete_patch(
                read,
                forge="GitLab",
                path=path,
                old_path=item["old_path"],
                status=status,
                base_sha=base_sha,
                head_sha=head_sha,
                max_bytes=max_file_bytes,
            )
            if isinstance(made, SkippedFile):
                skipped.append(made)
                continue
            patch, binary = made
        lines = (patch or "").splitlines()
        additions = sum(1 for ln in lines if ln.startswith("+"))
        deletions = sum(1 for ln in lines if ln.startswith("-"))
        files.append(ChangedFile(path, status, old_path, patch, additions, deletions, binary))
    return tuple(files), tuple(skipped)
