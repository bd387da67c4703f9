"""A throwaway git repository for producing real diffs in tests (a fixture factory)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


class GitRepo:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "core.autocrlf", "false")

    def git(self, *args: str) -> bytes:
        env = {**os.environ, **_ENV}
        return subprocess.run(
            ["git", *args], cwd=self.root, env=env, check=True, capture_output=True, timeout=30
        ).stdout

    def write(self, path: str, data: bytes | str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").decode().strip()

    def show(self, rev: str, path: str) -> bytes:
        return self.git("show", f"{rev}:{path}")

    def diff(self, base: str, head: str, *extra: str) -> bytes:
        return self.git("diff", "-M", *extra, base, head)

    def forge_patches(self, base: str, head: str) -> dict[str, bytes]:
        """Per-file header-less patches, as GitHub's ``patch`` / GitLab's ``diff`` carry them.

        Files git shows as binary get no entry (GitHub omits ``patch`` for them).
        """
        out: dict[str, bytes] = {}
        full = self.diff(base, head)
        for part in re.split(rb"(?m)^(?=diff --git )", full):
            if not part.strip():
                continue
            m = re.search(rb"(?m)^\+\+\+ (?:b/)?(.*)$", part)
            if m is None or b"\n@@ " not in part:
                continue
            if m.group(1) == b"/dev/null":
                m = re.search(rb"(?m)^--- (?:a/)?(.*)$", part)
                assert m is not None
            path = m.group(1).decode()
            out[path] = part[part.index(b"\n@@ ") + 1 :]
        return out
