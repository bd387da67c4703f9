"""A whole tree at a ref, presented as a change where every file is added: a full
repository scan runs through the same pipeline as a pull request."""

from __future__ import annotations

import asyncio

from bot.forges.base import Change, ChangedFile, ChangeSource, ChangeTarget, SkippedFile, Tree
from bot.forges.patches import added_patch

EMPTY_BASE = "tree:empty"
READ_CONCURRENCY = 16


class TreeSource:
    """Wraps any change source; ``fetch_change`` ignores the target and reads ``ref``."""

    def __init__(
        self,
        inner: ChangeSource,
        ref: str,
        *,
        max_files: int = 20_000,
        max_file_bytes: int = 1_000_000,
    ) -> None:
        self.inner = inner
        self.ref = ref
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self._texts: dict[str, str] = {}

    async def fetch_change(self, target: ChangeTarget) -> Change:
        listing = await self.inner.list_tree(self.ref)
        paths = sorted(listing)
        total = len(paths)
        skipped = [
            SkippedFile(p, f"over the scan limit of {self.max_files} files")
            for p in paths[self.max_files :]
        ]
        paths = paths[: self.max_files]
        semaphore = asyncio.Semaphore(READ_CONCURRENCY)

        async def read(path: str) -> bytes | None:
            async with semaphore:
                return await self.inner.read_file(path, self.ref)

        files: list[ChangedFile] = []
        for path, data in zip(paths, await asyncio.gather(*(read(p) for p in paths)), strict=True):
            if data is None:
                skipped.append(SkippedFile(path, "could not be read"))
            elif len(data) > self.max_file_bytes:
                skipped.append(SkippedFile(path, f"too large ({len(data)} bytes)"))
            elif b"\0" in data[:8000]:
                files.append(ChangedFile(path, "added", binary=True))
            else:
                text = data.decode("utf-8", errors="replace")
                self._texts[path] = text
                patch, count = added_patch(text)
                files.append(ChangedFile(path, "added", patch=patch, additions=count))
        notes = [listing.truncated] if listing.truncated else []
        if total > self.max_files:
            notes.append(f"the tree has {total} files; the scan covers the first {self.max_files}")
        truncated = "; ".join(notes) or None
        return Change(EMPTY_BASE, self.ref, tuple(files), tuple(skipped), truncated=truncated)

    async def compare(self, base: str, head: str) -> Change:
        return await self.inner.compare(base, head)

    async def read_file(self, path: str, ref: str) -> bytes | None:
        if ref == self.ref and path in self._texts:
            return self._texts[path].encode("utf-8")
        return await self.inner.read_file(path, ref)

    async def read_repo_config(self, ref: str) -> str | None:
        return await self.inner.read_repo_config(ref)

    async def list_tree(self, ref: str) -> Tree:
        return await self.inner.list_tree(ref)

    async def close(self) -> None:
        await self.inner.close()
