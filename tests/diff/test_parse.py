"""Parsing patches in the shapes GitHub and GitLab send them, and whole ``git diff`` output."""

from __future__ import annotations

import pytest

from bot.diff.parse import BINARY, NO_PATCH, UNPARSABLE, parse_patch, parse_unified_diff

GITHUB_PATCH = (
    "@@ -1,4 +1,5 @@ import os\n"
    " import sys\n"
    "-x = 1\n"
    "+x = 2\n"
    "+y = 3\n"
    " \n"
    " def f():\n"
    "@@ -20,3 +21,2 @@ def g():\n"
    "     a = 1\n"
    "-    b = 2\n"
    "     return a"
)


def test_github_patch_lines_and_numbers() -> None:
    f = parse_patch("src/m.py", GITHUB_PATCH, status="modified")
    assert f.status == "modified" and f.path == "src/m.py" and f.old_path is None
    assert len(f.hunks) == 2
    h0, _ = f.hunks
    assert (h0.source_start, h0.source_length, h0.target_start, h0.target_length) == (1, 4, 1, 5)
    assert h0.section_header == "import os"
    assert [(ln.kind, ln.text, ln.old_lineno, ln.new_lineno) for ln in h0.lines] == [
        (" ", "import sys", 1, 1),
        ("-", "x = 1", 2, None),
        ("+", "x = 2", None, 2),
        ("+", "y = 3", None, 3),
        (" ", "", 3, 4),
        (" ", "def f():", 4, 5),
    ]
    assert f.added_lines() == {2, 3}
    assert f.removed_lines() == {2, 21}
    assert f.commentable("new") == frozenset({1, 2, 3, 4, 5, 21, 22})
    assert f.commentable("old") == frozenset({2, 21})


def test_missing_patch_is_reported_not_dropped() -> None:
    f = parse_patch("big.sql", None, status="modified")
    assert f.no_patch_reason == NO_PATCH and not f.hunks and not f.reviewable
    # GitLab sends an empty diff for too_large / collapsed entries.
    assert parse_patch("big.sql", "", status="modified").no_patch_reason == NO_PATCH
    # A pure rename (the forge says nothing changed) is not "missing".
    pure = parse_patch("new.py", None, old_path="old.py", status="renamed", changes=0)
    assert pure.no_patch_reason is None and pure.status == "renamed" and pure.old_path == "old.py"


def test_added_removed_renamed_statuses() -> None:
    added = parse_patch("a.txt", "@@ -0,0 +1,2 @@\n+one\n+two", status="added")
    assert added.status == "added" and added.added_lines() == {1, 2}
    removed = parse_patch("a.txt", "@@ -1,2 +0,0 @@\n-one\n-two", status="removed")
    assert removed.status == "removed" and removed.commentable("new") == frozenset()
    assert removed.commentable("old") == frozenset({1, 2})
    renamed = parse_patch("b.txt", "@@ -1 +1 @@\n-a\n+b", old_path="a.txt", status="renamed")
    assert renamed.status == "renamed" and renamed.old_path == "a.txt"
    # GitLab's flags map to the same statuses.
    assert parse_patch("a", "@@ -1 +1 @@\n-a\n+b", status="deleted").status == "removed"
    assert parse_patch("a", "@@ -0,0 +1 @@\n+b", status="new").status == "added"


def test_no_newline_marker_crlf_and_bad_bytes() -> None:
    patch = b"@@ -1,2 +1,2 @@\r\n a\r\n-b\r\n\\ No newline at end of file\r\n+caf\xe9\r\n"
    patch += b"\\ No newline at end of file\r\n"
    f = parse_patch("w.txt", patch)
    lines = f.hunks[0].lines
    assert [ln.text for ln in lines] == ["a", "b", "caf\ufffd"]
    assert f.added_lines() == {2}


def test_binary_marker_and_garbage() -> None:
    f = parse_patch("logo.png", "Binary files a/logo.png and b/logo.png differ")
    assert f.binary and f.no_patch_reason == BINARY
    broken = parse_patch("x.py", "@@ -1,5 +1,5 @@\n a\n-b\n+c\n")
    assert broken.no_patch_reason is not None and broken.no_patch_reason.startswith(UNPARSABLE)
    assert not broken.hunks


@pytest.mark.parametrize(
    "header",
    ["@@ -3 +3 @@", "@@ -3,1 +3,1 @@ def x():"],
    ids=["no-lengths", "with-section"],
)
def test_hunk_header_shapes(header: str) -> None:
    f = parse_patch("a.py", f"{header}\n-old\n+new\n")
    assert f.added_lines() == {3} and f.removed_lines() == {3}


def test_unified_diff_quoted_path_and_modes() -> None:
    text = (
        'diff --git "a/caf\\303\\251.txt" "b/caf\\303\\251.txt"\n'
        "old mode 100644\n"
        "new mode 100755\n"
        "index 1111111..2222222\n"
        '--- "a/caf\\303\\251.txt"\n'
        '+++ "b/caf\\303\\251.txt"\n'
        "@@ -1 +1 @@\n"
        "-a\n"
        "+b\n"
    )
    [f] = parse_unified_diff(text)
    assert f.path == "café.txt"
    assert (f.old_mode, f.new_mode, f.mode_changed) == ("100644", "100755", True)
    assert parse_unified_diff("") == []


def test_patch_with_git_header_keeps_forge_names() -> None:
    text = (
        "diff --git a/x.py b/x.py\nindex 1..2 100644\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
    )
    f = parse_patch("x.py", text, status="modified")
    assert f.path == "x.py" and f.added_lines() == {1} and f.removed_lines() == {1}


def test_one_broken_file_does_not_hide_the_others() -> None:
    text = (
        "diff --git a/ok.py b/ok.py\n--- a/ok.py\n+++ b/ok.py\n@@ -1 +1 @@\n-a\n+b\n"
        "diff --git a/bad.py b/bad.py\n--- a/bad.py\n+++ b/bad.py\n@@ -1,9 +1,9 @@\n-a\n+b\n"
        "diff --git a/ok2.py b/ok2.py\n--- a/ok2.py\n+++ b/ok2.py\n@@ -3 +3 @@\n-c\n+d\n"
    )
    files = {f.path: f for f in parse_unified_diff(text)}
    assert files["ok.py"].added_lines() == {1}
    assert files["ok2.py"].added_lines() == {3}
    reason = files["bad.py"].no_patch_reason
    assert reason is not None and reason.startswith(UNPARSABLE)


def test_parse_errors_do_not_echo_code(caplog: pytest.LogCaptureFixture) -> None:
    secret = "AKIAIOSFODNN7EXAMPLE"
    f = parse_patch("x.py", f"@@ -1,1 +1,1 @@\n-a\n?{secret}\n")
    assert f.no_patch_reason == f"{UNPARSABLE} (Hunk diff line expected)"
    assert secret not in caplog.text
    [g] = parse_unified_diff(f"diff --git a/y b/y\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n?{secret}\n")
    assert g.no_patch_reason is not None and secret not in g.no_patch_reason
    assert secret not in caplog.text
