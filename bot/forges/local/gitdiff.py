"""Turning ``git diff`` output into :class:`ChangedFile` records.

Two outputs of the same comparison are combined: ``--name-status -z`` names each file
without quoting ambiguity (paths with spaces, renames), and the patch text gives the
hunks. Git writes both in the same order, one ``diff --git`` block per name-status entry.
"""

from __future__ import annotations

from bot.errors import ForgeError
from bot.forges.base import ChangedFile, FileStatus, SkippedFile

_STATUS: dict[str, FileStatus] = {
    "A": "added",
    "M": "modified",
    "T": "modified",  # type change (file <-> symlink): still one path with a diff
    "D": "removed",
    "R": "renamed",
    "C": "added",  # copies only appear with -C, which we do not pass
}


def parse_name_status(raw: bytes) -> list[tuple[FileStatus, str, str | None]]:
    """``(status, path, old_path)`` from ``git diff --name-status -z`` output."""
    parts = raw.decode("utf-8", errors="surrogateescape").split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    entries: list[tuple[FileStatus, str, str | None]] = []
    index = 0
    while index < len(parts):
        code = parts[index][:1]
        if code not in _STATUS:
            raise ForgeError(f"git diff printed an unknown status {parts[index]!r}")
        if code in {"R", "C"}:
            old, new = parts[index + 1], parts[index + 2]
            entries.append((_STATUS[code], new, old if code == "R" else None))
            index += 3
        else:
            entries.append((_STATUS[code], parts[index + 1], None))
            index += 2
    return entries


def split_patch_blocks(text: str) -> list[str]:
    """The ``diff --git`` blocks of a patch. Content lines always start with a space,
    ``+``, ``-`` or ``\\``, so a line starting with ``diff --git `` is always a header."""
    blocks: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("diff --git ") and current:
            blocks.append("".join(current))
            current = []
        current.append(line)
    if current:
        blocks.append("".join(current))
    return blocks


def hunks_of(block: str) -> tuple[str | None, int, int]:
    """``(patch, additions, deletions)`` of one block; patch None for a binary file."""
    lines = block.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("@@")), None)
    if start is None:
        binary = any(line.startswith(("Binary files ", "GIT binary patch")) for line in lines)
        return (None if binary else ""), 0, 0
    hunk_lines = lines[start:]
    additions = sum(1 for line in hunk_lines if line.startswith("+"))
    deletions = sum(1 for line in hunk_lines if line.startswith("-"))
    # GitHub's patch field has no trailing newline; keep the same shape everywhere.
    return "".join(hunk_lines).rstrip("\n"), additions, deletions


def combine(
    entries: list[tuple[FileStatus, str, str | None]],
    patch_text: str,
    *,
    max_patch_bytes: int,
) -> tuple[list[ChangedFile], list[SkippedFile]]:
    """Pair name-status entries with patch blocks into files and skipped files."""
    blocks = split_patch_blocks(patch_text)
    if len(blocks) != len(entries):
        raise ForgeError(
            f"git diff printed {len(blocks)} patches for {len(entries)} files",
            hint="a diff driver or textconv setting may be rewriting the output",
        )
    files: list[ChangedFile] = []
    skipped: list[SkippedFile] = []
    for (status, path, old_path), block in zip(entries, blocks, strict=True):
        patch, additions, deletions = hunks_of(block)
        if patch is not None and len(patch.encode("utf-8", "surrogateescape")) > max_patch_bytes:
            skipped.append(SkippedFile(path, f"diff larger than {max_patch_bytes} bytes"))
            continue
        files.append(
            ChangedFile(
                path=path,
                status=status,
                old_path=old_path,
                patch=patch,
                additions=additions,
                deletions=deletions,
                binary=patch is None,
            )
        )
    return files, skipped
