"""Patches made by hand: a file's patch rebuilt from its two versions when the forge leaves
it out, and a new file's patch (an archive, a whole tree scanned as a change).

GitHub omits ``patch`` and GitLab collapses ``diff`` for large files; the pipeline still
wants hunks. The result has the forges' shape: hunks only, from the first ``@@`` line.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable

from bot.forges.base import FileStatus, SkippedFile


def added_patch(text: str) -> tuple[str, int]:
    """A GitHub-style patch adding ``text`` as a new file, and its number of lines."""
    lines = text.splitlines()
    if not lines:
        return "", 0
    body = "\n".join("+" + line for line in lines)
    if not text.endswith(("\n", "\r")):
        body += "\n\\ No newline at end of file"
    return f"@@ -0,0 +1,{len(lines)} @@\n{body}", len(lines)


def looks_binary(data: bytes) -> bool:
    """Git's rule of thumb: a NUL byte in the first 8 KB."""
    return b"\0" in data[:8192]


def rebuild_patch(old: bytes, new: bytes) -> str | None:
    """The unified diff (3 lines of context) from ``old`` to ``new``; None when binary."""
    if looks_binary(old) or looks_binary(new):
        return None
    lines = difflib.unified_diff(
        old.decode("utf-8", "replace").splitlines(),
        new.decode("utf-8", "replace").splitlines(),
        lineterm="",
        n=3,
    )
    return "\n".join(list(lines)[2:])  # drop the ---/+++ header lines


async def complete_patch(
    read: Callable[[str, str], Awaitable[bytes | None]],
    *,
    forge: str,
    path: str,
    old_path: str,
    status: FileStatus,
    base_sha: str,
    head_sha: str,
    max_bytes: int,
) -> tuple[str | None, bool] | SkippedFile:
    """``(patch, binary)`` rebuilt from both versions read with ``read(path, ref)``, or the
    file as skipped when a version cannot be read (over ``max_bytes``, or not a file)."""
    new = b"" if status == "removed" else await read(path, head_sha)
    old = b"" if status == "added" else await read(old_path, base_sha)
    if new is None or old is None:
        return SkippedFile(path, f"{forge} shows no diff and the file is over {max_bytes} bytes")
    patch = rebuild_patch(old, new)
    return patch, patch is None
