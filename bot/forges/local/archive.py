"""A ZIP archive as a change: every text file is an added file.

Members are read in memory, never extracted to disk. :func:`vet_member` is the one place
that decides whether a member may be read at all; the upload safety checks (sizes,
ratios, counts, paths) belong there.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import posixpath
import zipfile
from pathlib import Path

from bot.errors import BadInput
from bot.forges.base import CONFIG_PATH, Change, ChangedFile, ChangeTarget, SkippedFile, Tree
from bot.forges.patches import added_patch

logger = logging.getLogger(__name__)

# An archive has no history: its "base" is the empty tree, its "head" the archive's hash.
EMPTY_BASE = "archive:empty"


def vet_member(info: zipfile.ZipInfo, *, max_file_bytes: int) -> str | None:
    """Why ``info`` must not be read, or None when it may be."""
    name = info.filename
    if name.startswith("/") or "\\" in name or ".." in name.split("/"):
        return "unsafe path in archive"
    if info.flag_bits & 0x1:
        return "encrypted member"
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        return "symbolic link"
    if info.file_size > max_file_bytes:
        return f"larger than {max_file_bytes} bytes"
    return None


def _common_root(names: list[str]) -> str:
    """The single top folder every member sits in (``repo-main/`` of a forge download)."""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and all("/" in name for name in names):
        return tops.pop() + "/"
    return ""


class ArchiveSource:
    """The read side of the forge interface for one ZIP file."""

    def __init__(self, path: str | Path, *, max_file_bytes: int = 1_000_000) -> None:
        self.path = Path(path)
        self._max_file_bytes = max_file_bytes
        self._members: dict[str, zipfile.ZipInfo] | None = None
        self._skipped: list[SkippedFile] = []
        self._root = ""
        self._sha = ""

    def _load(self) -> dict[str, zipfile.ZipInfo]:
        if self._members is not None:
            return self._members
        try:
            with zipfile.ZipFile(self.path) as archive:
                infos = [info for info in archive.infolist() if not info.is_dir()]
        except (zipfile.BadZipFile, OSError) as exc:
            raise BadInput(f"{self.path.name} is not a readable ZIP archive: {exc}") from exc
        self._root = _common_root([info.filename for info in infos])
        members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            path = posixpath.normpath(info.filename.removeprefix(self._root))
            reason = vet_member(info, max_file_bytes=self._max_file_bytes)
            if reason is not None:
                self._skipped.append(SkippedFile(path, reason))
            else:
                members[path] = info
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        self._sha = digest.hexdigest()
        self._members = members
        return members

    def _read(self, path: str) -> bytes | None:
        info = self._load().get(path)
        if info is None:
            return None
        with zipfile.ZipFile(self.path) as archive:
            return archive.read(info)

    def _change(self) -> Change:
        members = self._load()
        files: list[ChangedFile] = []
        skipped = list(self._skipped)
        with zipfile.ZipFile(self.path) as archive:
            for path in sorted(members):
                data = archive.read(members[path])
                if b"\0" in data[:8192]:
                    files.append(ChangedFile(path, "added", binary=True))
                    continue
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    skipped.append(SkippedFile(path, "not UTF-8 text"))
                    continue
                patch, count = added_patch(text)
                files.append(ChangedFile(path, "added", patch=patch, additions=count))
        logger.debug("archive %s: %d files, %d skipped", self.path.name, len(files), len(skipped))
        return Change(EMPTY_BASE, self._sha, tuple(files), tuple(skipped), start_sha=EMPTY_BASE)

    async def fetch_change(self, target: ChangeTarget) -> Change:
        return await asyncio.to_thread(self._change)

    async def compare(self, base: str, head: str) -> Change:
        return await asyncio.to_thread(self._change)

    async def read_file(self, path: str, ref: str) -> bytes | None:
        if ref == EMPTY_BASE:
            return None
        return await asyncio.to_thread(self._read, path)

    async def read_repo_config(self, ref: str) -> str | None:
        data = await self.read_file(CONFIG_PATH, ref)
        return None if data is None else data.decode("utf-8", errors="replace")

    async def list_tree(self, ref: str) -> Tree:
        members = await asyncio.to_thread(self._load)
        return Tree(sorted(members))

    async def close(self) -> None:
        return None
