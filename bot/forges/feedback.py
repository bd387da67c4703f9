"""Reading people's answers to our comments, forge-neutral: the finding key in our hidden
marker, and whether a reply says the finding is a false positive."""

from __future__ import annotations

import re

from bot.forges.base import COMMENT_MARKER_PREFIX

_MARKER = re.compile(re.escape(COMMENT_MARKER_PREFIX) + r"(\S+) -->")
FALSE_POSITIVE = "false positive"


def marker_key(body: str | None) -> str | None:
    """The finding key of a comment body carrying our hidden marker, else None."""
    found = _MARKER.search(body or "")
    return found.group(1) if found else None


def says_false_positive(body: str | None) -> bool:
    """A reply whose first line is "false positive" (any case, trailing punctuation)."""
    lines = (body or "").strip().splitlines()
    return bool(lines) and lines[0].strip().rstrip(".!").strip().lower() == FALSE_POSITIVE
