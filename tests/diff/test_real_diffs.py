"""Real diffs made with git in throwaway repositories, in the shapes the forges send.

The code edited is real: modules of the running Python's standard library.
"""

from __future__ import annotations

import inspect
import os
import textwrap
import urllib.parse
from pathlib import Path

import pytest

from bot.diff.parse import BINARY, NO_PATCH, FileDiff, parse_patch, parse_unified_diff
from tests.diff.gitrepo import GitRepo


def _lines(data: bytes) -> list[str]:
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def assert_matches_files(fd: FileDiff, old: bytes | None, new: bytes | None) -> None:
    """Every parsed line's text sits at its number in the real old and new files."""
    old_lines = _lines(old) if old is not None else []
    new_lines = _lines(new) if new is not None else []
    assert fd.hunks, fd
    for hunk in fd.hunks:
        for ln in hunk.lines:
            if ln.new_lineno is not None:
                assert new_lines[ln.new_lineno - 1] == ln.text, (ln, fd.path)
            if ln.old_lineno is not None:
                assert old_lines[ln.old_lineno - 1] == ln.text, (ln, fd.path)
            assert (ln.kind == "+") == (ln.old_lineno is None)
            assert (ln.kind == "-") == (ln.new_lineno is None)


def _edit(source: str) -> str:
    lines = source.split("\n")
    lines[10:12] = ["# auditbot: replaced two lines", "import os  # added"]
    del lines[40:43]
    lines.insert(len(lines) // 2, "    assert True  # inserted in the middle")
    lines[-5] = lines[-5] + "  # touched near the end"
    return "\n".join(lines)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def test_modified_real_code_forge_and_git_shapes(repo: GitRepo) -> None:
    sources = {
        "lib/textwrap.py": inspect.getsource(textwrap),
        "lib/parse.py": inspect.getsource(urllib.parse),
    }
    for path, src in sources.items():
        repo.write(path, src)
    base = repo.commit("base")
    for path, src in sources.items():
        repo.write(path, _edit(src))
    head = repo.commit("edit")
    patches = repo.forge_patches(base, head)
    assert set(patches) == set(sources)
    for path in sources:
        fd = parse_patch(path, patches[path], status="modified")
        assert fd.status == "modified" and len(fd.hunks) >= 3
        assert_matches_files(fd, repo.show(base, path), repo.show(head, path))
    whole = {f.path: f for f in parse_unified_diff(repo.diff(base, head))}
    for path in sources:
        assert whole[path].hunks == parse_patch(path, patches[path]).hunks


def test_rename_with_edits(repo: GitRepo) -> None:
    src = inspect.getsource(textwrap)
    repo.write("old/wrap.py", src)
    base = repo.commit()
    os.remove(repo.root / "old/wrap.py")
    repo.write("new/wrap.py", src.replace("def fill(", "def fill_text(", 1))
    head = repo.commit()
    [fd] = parse_unified_diff(repo.diff(base, head))
    assert (fd.status, fd.path, fd.old_path) == ("renamed", "new/wrap.py", "old/wrap.py")
    assert_matches_files(fd, repo.show(base, "old/wrap.py"), repo.show(head, "new/wrap.py"))
    patch = repo.forge_patches(base, head)["new/wrap.py"]
    gh = parse_patch("new/wrap.py", patch, old_path="old/wrap.py", status="renamed")
    assert gh.status == "renamed" and gh.hunks == fd.hunks


def test_binary_file(repo: GitRepo) -> None:
    repo.write("img/logo.png", bytes(range(256)) * 4)
    base = repo.commit()
    repo.write("img/logo.png", bytes(reversed(range(256))) * 4)
    repo.write("data.bin", b"\x00\x01\x02" * 10)
    head = repo.commit()
    files = {f.path: f for f in parse_unified_diff(repo.diff(base, head))}
    assert files["img/logo.png"].binary and files["img/logo.png"].no_patch_reason == BINARY
    assert files["data.bin"].status == "added" and files["data.bin"].binary
    # GitHub omits ``patch`` for binary files: reported, not dropped.
    assert "img/logo.png" not in repo.forge_patches(base, head)
    assert parse_patch("img/logo.png", None, status="modified").no_patch_reason == NO_PATCH
    # ``git diff --binary`` output carries a "GIT binary patch" block instead.
    files_bin = parse_unified_diff(repo.diff(base, head, "--binary"))
    assert all(f.binary for f in files_bin)


def test_no_newline_at_end_of_file(repo: GitRepo) -> None:
    repo.write("a.txt", "one\ntwo\nthree")
    base = repo.commit()
    repo.write("a.txt", "one\ntwo\nTHREE\nfour")
    head = repo.commit()
    patch = repo.forge_patches(base, head)["a.txt"]
    assert b"\\ No newline at end of file" in patch
    fd = parse_patch("a.txt", patch)
    assert_matches_files(fd, repo.show(base, "a.txt"), repo.show(head, "a.txt"))
    assert fd.added_lines() == {3, 4} and fd.removed_lines() == {3}
    assert all("No newline" not in ln.text for h in fd.hunks for ln in h.lines)


def test_crlf_file(repo: GitRepo) -> None:
    repo.write("win.bat", b"@echo off\r\nset A=1\r\nset B=2\r\necho done\r\n")
    base = repo.commit()
    repo.write("win.bat", b"@echo off\r\nset A=1\r\nset B=3\r\nset C=4\r\necho done\r\n")
    head = repo.commit()
    fd = parse_patch("win.bat", repo.forge_patches(base, head)["win.bat"])
    assert_matches_files(fd, repo.show(base, "win.bat"), repo.show(head, "win.bat"))
    assert fd.added_lines() == {3, 4}
    assert not any(ln.text.endswith("\r") for h in fd.hunks for ln in h.lines)


def test_non_utf8_bytes(repo: GitRepo) -> None:
    repo.write("latin1.txt", "caf\xe9\nna\xefve\n".encode("latin-1"))
    base = repo.commit()
    repo.write("latin1.txt", "caf\xe9\nna\xefve\n\xfcber\n".encode("latin-1"))
    head = repo.commit()
    raw = repo.diff(base, head)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    [fd] = parse_unified_diff(raw)
    assert fd.added_lines() == {3}
    assert fd.hunks[0].lines[-1].text == "\ufffdber"
    fd2 = parse_patch("latin1.txt", repo.forge_patches(base, head)["latin1.txt"])
    assert fd2.hunks == fd.hunks


def test_mode_change_and_deletion(repo: GitRepo) -> None:
    repo.write("run.sh", "#!/bin/sh\necho hi\n")
    repo.write("gone.py", "x = 1\ny = 2\n")
    base = repo.commit()
    os.chmod(repo.root / "run.sh", 0o755)
    os.remove(repo.root / "gone.py")
    head = repo.commit()
    files = {f.path: f for f in parse_unified_diff(repo.diff(base, head))}
    sh = files["run.sh"]
    assert sh.mode_changed and (sh.old_mode, sh.new_mode) == ("100644", "100755")
    assert not sh.hunks and sh.no_patch_reason is None
    gone = files["gone.py"]
    assert gone.status == "removed" and gone.removed_lines() == {1, 2}
    assert_matches_files(gone, repo.show(base, "gone.py"), None)
    # A mode-only change has no patch on GitHub, and 0 changes: nothing to review.
    assert parse_patch("run.sh", None, status="modified", changes=0).no_patch_reason is None


@pytest.mark.parametrize(
    "entry",
    [
        {"diff": "", "too_large": True, "collapsed": False},
        {"diff": "", "too_large": False, "collapsed": True},
    ],
    ids=["too_large", "collapsed"],
)
def test_gitlab_empty_diffs(entry: dict[str, object]) -> None:
    """GitLab's MR diff entry with an emptied ``diff``: reported as not reviewable."""
    diff = entry["diff"]
    assert isinstance(diff, str)
    fd = parse_patch("db/huge.sql", diff, status="modified")
    assert fd.no_patch_reason == NO_PATCH and not fd.reviewable
