"""Clipping a finding's range into one hunk's commentable lines."""

from __future__ import annotations

from bot.diff.lines import hunk_index_of, is_commentable, place_range
from bot.diff.parse import parse_patch

# Hunk 1: new lines 10-14 (12, 13 added); hunk 2: new lines 40-43 (41 added), old 38 removed.
PATCH = "@@ -10,3 +10,5 @@\n a\n b\n+c\n+d\n e\n@@ -37,4 +40,4 @@\n f\n-g\n+h\n i\n j\n"
FILE = parse_patch("x.py", PATCH)


def test_inside_one_hunk_is_kept() -> None:
    assert place_range(FILE, 12, 13) == (12, 13)
    assert place_range(FILE, 13, 12) == (12, 13)


def test_partly_outside_is_clipped_to_the_hunk() -> None:
    assert place_range(FILE, 5, 12) == (10, 12)
    assert place_range(FILE, 13, 30) == (13, 14)


def test_spanning_two_hunks_keeps_the_hunk_of_start() -> None:
    assert place_range(FILE, 14, 41) == (14, 14)
    # start outside every hunk: the hunk holding most of the range wins.
    assert place_range(FILE, 20, 43) == (40, 43)
    assert place_range(FILE, 13, 40) == (13, 14)


def test_outside_every_hunk_is_none() -> None:
    assert place_range(FILE, 20, 30) is None
    assert place_range(FILE, 1, 1) is None


def test_old_side_uses_removed_lines() -> None:
    assert place_range(FILE, 38, 38, side="old") == (38, 38)
    assert place_range(FILE, 37, 39, side="old") == (38, 38)
    assert place_range(FILE, 12, 12, side="old") is None
    assert is_commentable(FILE, 41) and not is_commentable(FILE, 41, "old")
    assert hunk_index_of(FILE, 41) == 1 and hunk_index_of(FILE, 20) is None
