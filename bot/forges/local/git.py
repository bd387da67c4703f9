"""A repository on disk, read through the ``git`` command line (for ``auditbot review``).

Git runs as a subprocess: nothing blocks the event loop, and git itself decides renames,
binary files and the diff, exactly as a developer sees it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from bot.errors import BadInput, ForgeError, NotFound
from bot.forges.base import CONFIG_PATH, Change, ChangeTarget, Tree, is_null_sha
from bot.forges.local.gitdiff import combine, parse_name_status

logger = logging.getLogger(__name__)

# ``ChangeTarget(head=WORKTREE)`` compares ``base`` (default HEAD) with the files on disk:
# staged and unstaged changes, and untracked files that .gitignore does not exclude.
WORKTREE = ":worktree"

# Keep the output stable whatever the user's git configuration says.
_DIFF_FLAGS = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--full-index",
    "-M",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


class LocalGitSource:
    """The read side of the forge interface for one git repository on disk."""

    def __init__(
        self,
        path: str | Path,
        *,
        git: str = "git",
        max_patch_bytes: int = 1_000_000,
        timeout_s: float = 120.0,
    ) -> None:
        self.path = Path(path)
        self._git = git
        self._max_patch_bytes = max_patch_bytes
        self._timeout_s = timeout_s

    async def _run(
        self,
        *args: str,
        ok_codes: tuple[int, ...] = (0,),
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
    ) -> tuple[int, bytes]:
        full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        process = await asyncio.create_subprocess_exec(
            self._git,
            "-C",
            str(self.path),
            "-c",
            "core.quotePath=false",
            *args,
            stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=full_env,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(stdin), self._timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ForgeError(f"git {args[0]} took longer than {self._timeout_s} s") from None
        code = process.returncode or 0
        if code not in ok_codes:
            message = err.decode("utf-8", "replace").strip()
            raise ForgeError(f"git {args[0]} failed ({code}): {message}")
        return code, out

    async def resolve(self, ref: str) -> str:
        """The commit SHA ``ref`` names; NotFound when it names none."""
        code, out = await self._run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}",
            ok_codes=(0, 1, 128),
        )
        if code != 0:
            raise NotFound(
                f"{ref!r} is not a commit in {self.path}",
                hint="pass a branch, tag or commit SHA that exists in this repository",
            )
        return out.decode().strip()

    async def _empty_tree(self) -> str:
        _, out = await self._run("hash-object", "-t", "tree", "/dev/null")
        return out.decode().strip()

    async def default_base(self, head: str) -> str:
        """The merge base with the branch's upstream, else ``head``'s parent, else nothing."""
        code, out = await self._run(
            "rev-parse", "--verify", "--quiet", "@{upstream}", ok_codes=(0, 1, 128)
        )
        if code == 0:
            upstream = out.decode().strip()
            code, out = await self._run("merge-base", upstream, head, ok_codes=(0, 1))
            if code == 0:
                return out.decode().strip()
        code, out = await self._run(
            "rev-parse", "--verify", "--quiet", f"{head}~1^{{commit}}", ok_codes=(0, 1, 128)
        )
        if code == 0:
            return out.decode().strip()
        return await self._empty_tree()  # a root commit: every file is added

    async def check_repository(self) -> None:
        """BadInput, in one line, when the path is not inside a git working tree."""
        if not self.path.is_dir():
            raise BadInput(f"{self.path}: not a directory")
        code, out = await self._run("rev-parse", "--show-toplevel", ok_codes=(0, 128))
        if code != 0 or not out.strip():
            raise BadInput(
                f"{self.path} is not a git repository",
                hint="run auditbot review inside a git working tree, or pass --zip FILE",
            )
        # Diffs name files from the top of the repository; so does reading them from disk.
        self.path = Path(out.decode().strip())

    async def fetch_change(self, target: ChangeTarget) -> Change:
        if target.number is not None:
            raise BadInput("a local repository has no pull requests; pass base and head refs")
        await self.check_repository()
        if target.head == WORKTREE:
            return await self._worktree_change(target.base)
        head_sha = await self.resolve(target.head or "HEAD")
        base_sha = (
            await self.resolve(target.base) if target.base else await self.default_base(head_sha)
        )
        return await self._diff(base_sha, head_sha)

    async def _worktree_change(self, base: str | None) -> Change:
        if base is not None:
            base_sha = await self.resolve(base)
        else:
            code, out = await self._run(
                "rev-parse", "--verify", "--quiet", "HEAD^{commit}", ok_codes=(0, 1, 128)
            )
            # No commit yet: every file is added.
            base_sha = out.decode().strip() if code == 0 else await self._empty_tree()
        async with self._scratch_index() as env:
            _, untracked = await self._run(
                "ls-files", "--others", "--exclude-standard", "-z", env=env
            )
            if untracked:
                # Intent-to-add entries make `git diff BASE` show untracked files as new.
                await self._run(
                    "add", "--intent-to-add", "--pathspec-from-file=-", "--pathspec-file-nul",
                    env=env, stdin=untracked,
                )
            return await self._diff(base_sha, None, env=env)

    @asynccontextmanager
    async def _scratch_index(self) -> AsyncIterator[dict[str, str]]:
        """Git's environment for a throwaway copy of the index and a throwaway object
        folder (the real one stays readable as an alternate): reviewing uncommitted work
        changes nothing in the repository, not even by adding an object."""
        _, out = await self._run("rev-parse", "--git-path", "index", "--git-path", "objects")
        index, objects = (self.path / line for line in out.decode().splitlines())
        scratch = await asyncio.to_thread(tempfile.mkdtemp, prefix="auditbot-index-")
        try:
            # Git takes a missing object folder for "not a repository".
            (Path(scratch) / "objects").mkdir()
            if index.is_file():
                await asyncio.to_thread(shutil.copyfile, index, Path(scratch) / "index")
            yield {
                "GIT_INDEX_FILE": str(Path(scratch) / "index"),
                "GIT_OBJECT_DIRECTORY": str(Path(scratch) / "objects"),
                "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects.resolve()),
            }
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)

    async def compare(self, base: str, head: str) -> Change:
        head_sha = await self.resolve(head)
        base_sha = await self._empty_tree() if is_null_sha(base) else await self.resolve(base)
        return await self._diff(base_sha, head_sha)

    async def _diff(
        self, base_sha: str, head_sha: str | None, env: Mapping[str, str] | None = None
    ) -> Change:
        refs = (base_sha,) if head_sha is None else (base_sha, head_sha)
        _, names = await self._run(
            "diff", *_DIFF_FLAGS, "--name-status", "-z", *refs, "--", env=env
        )
        _, patch = await self._run("diff", *_DIFF_FLAGS, *refs, "--", env=env)
        files, skipped = combine(
            parse_name_status(names),
            patch.decode("utf-8", errors="replace"),
            max_patch_bytes=self._max_patch_bytes,
        )
        logger.debug("local diff %s..%s: %d files", base_sha, head_sha or WORKTREE, len(files))
        return Change(
            base_sha=base_sha,
            head_sha=head_sha or WORKTREE,
            files=tuple(files),
            skipped=tuple(skipped),
            start_sha=base_sha,
        )

    async def read_file(self, path: str, ref: str) -> bytes | None:
        if ref == WORKTREE:
            return await asyncio.to_thread(self._read_worktree, path)
        code, out = await self._run(
            "cat-file", "blob", f"{ref}:{path}", ok_codes=(0, 1, 128)
        )
        return out if code == 0 else None

    def _read_worktree(self, path: str) -> bytes | None:
        root = self.path.resolve()
        full = (root / path).resolve()
        # A path from a diff never leaves the repository; refuse one that tries.
        if not full.is_relative_to(root) or not full.is_file():
            return None
        return full.read_bytes()

    async def read_repo_config(self, ref: str) -> str | None:
        data = await self.read_file(CONFIG_PATH, ref)
        return None if data is None else data.decode("utf-8", errors="replace")

    async def list_tree(self, ref: str) -> Tree:
        sha = await self.resolve(ref)
        _, out = await self._run("ls-tree", "-r", "-z", "--name-only", "--full-tree", sha)
        return Tree(p for p in out.decode("utf-8", "surrogateescape").split("\0") if p)

    async def close(self) -> None:
        return None
