"""Rebuilding a file's patch from its two versions when the forge leaves it out.

GitHub omits ``patch`` and GitLab collapses ``diff`` for large files; the pipeline still
wants hunks. The result has the forges' shape: hunks only, from the first ``@@`` line.
"""

from __future__ import annotations

import difflib


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
