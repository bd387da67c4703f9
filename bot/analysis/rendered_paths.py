"""Which file each line of a rendered text belongs to, for scans that are given no path.

Prompt chunks (``bot/diff/chunking.py``) and unified diffs hold several files; the secret
scan treats config files (``.env``, Dockerfiles, YAML...) more strictly than code, so before
masking a chunk it needs each line's file. Headers name it: a chunk's ``### path (status)``
line (and the ``@@ path  hunk k/n ...`` line of the older chunk format), a diff's
``diff --git a/x b/y`` and ``+++ b/y``.

A chunk's code lines always start with their number or a removed line's ``-``, so file
content cannot forge a chunk header there. In a raw diff an added ``++ b/x`` line reads
like a header; that only lets a PR author keep their own value from being masked, which
hides nothing of anyone else's.
"""

from __future__ import annotations

import re

_HEADERS = (
    re.compile(r"^### (?P<path>\S.{0,1000}?) \((?:added|modified|removed|renamed)\b"),
    re.compile(r"^@@ (?P<path>\S.{0,1000}?)  hunk \d+/\d+ "),
    re.compile(r"^diff --git a/\S{1,1000} b/(?P<path>\S{1,1000})\s*$"),
    re.compile(r"^\+\+\+ (?:b/)?(?P<path>[^\s/]\S{0,1000})\s*$"),
)
_HEADER_STARTS = ("### ", "@@ ", "diff --git ", "+++ ")

# How a code line is drawn: a diff marker (+ - space) or a chunk's number and mark ("12+ ",
# "40. ", "7  ", a removed line's "- "; bot/diff/context.py). Patterns anchored at a line's
# start allow it first.
RENDER_PREFIX = r"(?:\d{1,12}[+. ][ ]|-[ ]|[-+](?![-+]))?"


def path_of_each_line(lines: list[str]) -> list[str]:
    """For each line, the path named by the last header at or above it ("" before any)."""
    current = ""
    paths: list[str] = []
    for line in lines:
        if line.startswith(_HEADER_STARTS):
            for header in _HEADERS:
                match = header.match(line)
                if match is not None and match.group("path") != "/dev/null":
                    current = match.group("path")
                    break
        paths.append(current)
    return paths
