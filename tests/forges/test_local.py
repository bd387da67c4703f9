"""The local git source against real repositories made with the git CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.errors import BadInput, NotFound
from bot.forges.base import ZERO_SHA as NULL_SHA
from bot.forges.base import ChangeSource, ChangeTarget
from bot.forges.local.git import WORKTREE, LocalGitSource


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "dev@example.com")
    git(path, "config", "user.name", "Dev")
    git(path, "config", "commit.gpgsign", "false")
    (path / "app.py").write_text("import os\n\n\ndef main():\n    return 1\n")
    (path / "old name.py").write_text("".join(f"line {i}\n" for i in range(30)))
    (path / "gone.txt").write_text("bye\n")
    (path / ".auditbot.yml").write_text("review:\n  fail_on: critical\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "base")
    # The change under review.
    (path / "app.py").write_text("import os\n\n\ndef main():\n    return os.system(input())\n")
    git(path, "mv", "old name.py", "new name.py")
    text = (path / "new name.py").read_text().replace("line 5\n", "line five\n")
    (path / "new name.py").write_text(text)
    (path / "gone.txt").unlink()
    (path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0binary")
    (path / "empty.py").write_text("")
    (path / "héllo.py").write_text("print('hi')")  # no final newline
    (path / ".auditbot.yml").write_text("review:\n  fail_on: info\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "head")
    return path


async def test_change_between_head_and_its_parent(repo: Path) -> None:
    source = LocalGitSource(repo)
    assert isinstance(source, ChangeSource)
    change = await source.fetch_change(ChangeTarget())
    assert change.head_sha == git(repo, "rev-parse", "HEAD")
    assert change.base_sha == git(repo, "rev-parse", "HEAD~1")
    by_path = {f.path: f for f in change.files}
    assert set(by_path) == {
        ".auditbot.yml", "app.py", "new name.py", "gone.txt", "logo.png", "empty.py", "héllo.py",
    }
    app = by_path["app.py"]
    assert (app.status, app.additions, app.deletions) == ("modified", 1, 1)
    assert app.patch is not None
    assert app.patch.startswith("@@ -2,4 +2,4 @@")
    assert "+    return os.system(input())" in app.patch
    assert not app.patch.endswith("\n")
    renamed = by_path["new name.py"]
    assert (renamed.status, renamed.old_path) == ("renamed", "old name.py")
    assert renamed.patch is not None
    assert "+line five" in renamed.patch
    assert by_path["gone.txt"].status == "removed"
    assert by_path["logo.png"].binary
    assert by_path["logo.png"].patch is None
    assert by_path["empty.py"].status == "added"
    assert by_path["empty.py"].patch == ""
    assert by_path["héllo.py"].patch == "@@ -0,0 +1 @@\n+print('hi')\n\\ No newline at end of file"


async def test_reads_files_and_config_at_a_ref(repo: Path) -> None:
    source = LocalGitSource(repo)
    change = await source.fetch_change(ChangeTarget())
    assert await source.read_file("app.py", change.head_sha) == (repo / "app.py").read_bytes()
    assert await source.read_file("gone.txt", change.base_sha) == b"bye\n"
    assert await source.read_file("gone.txt", change.head_sha) is None
    # The config comes from whichever ref the caller names: the base, never the head.
    assert await source.read_repo_config(change.base_sha) == "review:\n  fail_on: critical\n"
    tree = await source.list_tree("HEAD")
    assert "new name.py" in tree
    assert "old name.py" not in tree
    assert "héllo.py" in tree


async def test_explicit_refs_and_unknown_ref(repo: Path) -> None:
    source = LocalGitSource(repo)
    change = await source.fetch_change(ChangeTarget(base="HEAD", head="HEAD"))
    assert change.files == ()
    with pytest.raises(NotFound):
        await source.fetch_change(ChangeTarget(base="no-such-branch"))
    with pytest.raises(BadInput):
        await source.fetch_change(ChangeTarget(number=3))


async def test_default_base_is_the_merge_base_with_upstream(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    (repo / "a.py").write_text("x = 1\n")
    git(repo, "add", "a.py")
    git(repo, "commit", "-q", "-m", "one")
    (repo / "b.py").write_text("y = 2\n")
    git(repo, "add", "b.py")
    git(repo, "commit", "-q", "-m", "two")
    change = await LocalGitSource(repo).fetch_change(ChangeTarget())
    assert change.base_sha == git(repo, "rev-parse", "origin/main")
    assert {f.path for f in change.files} == {"a.py", "b.py"}


async def test_first_push_compares_against_nothing(repo: Path) -> None:
    change = await LocalGitSource(repo).compare(NULL_SHA, "HEAD")
    assert all(f.status == "added" for f in change.files)
    assert "new name.py" in {f.path for f in change.files}


async def test_working_tree_mode(repo: Path) -> None:
    (repo / "app.py").write_text("print('edited')\n")
    source = LocalGitSource(repo)
    change = await source.fetch_change(ChangeTarget(head=WORKTREE))
    assert [f.path for f in change.files] == ["app.py"]
    assert await source.read_file("app.py", WORKTREE) == b"print('edited')\n"
    assert await source.read_file("../outside", WORKTREE) is None


async def test_oversized_patch_is_skipped_with_reason(repo: Path) -> None:
    change = await LocalGitSource(repo, max_patch_bytes=40).fetch_change(ChangeTarget())
    reasons = {s.path: s.reason for s in change.skipped}
    assert reasons["app.py"] == "diff larger than 40 bytes"
    assert "app.py" not in {f.path for f in change.files}
