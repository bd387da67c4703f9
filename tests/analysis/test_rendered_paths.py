"""Which file each line of a chunk or a diff belongs to."""

from __future__ import annotations

import re

import pytest

from bot.analysis.rendered_paths import RENDER_PREFIX, path_of_each_line

CHUNK = """### .env (added)
1+ APP=web
2+ DB_PASSWORD=x
- OLD_PASSWORD=y
### src/app.py (modified, from src/old.py)
39. def f():
40+ ### not a header: a code line always starts with its number
41      return 1"""

DIFF = """diff --git a/Dockerfile b/Dockerfile
--- a/Dockerfile
+++ b/Dockerfile
@@ -1 +1,2 @@
 FROM python:3.11
+ENV TOKEN=x
diff --git a/gone.env b/gone.env
--- a/gone.env
+++ /dev/null
@@ -1 +0,0 @@
-KEY=x"""


def test_chunk_lines_take_the_path_of_their_header() -> None:
    paths = path_of_each_line(CHUNK.split("\n"))
    assert paths == [".env"] * 4 + ["src/app.py"] * 4


def test_diff_lines_take_the_path_of_their_header() -> None:
    paths = path_of_each_line(DIFF.split("\n"))
    assert paths[:6] == ["Dockerfile"] * 6
    # A deleted file keeps the name from its diff --git line, not /dev/null.
    assert paths[6:] == ["gone.env"] * 5


def test_text_without_headers_has_no_path() -> None:
    assert path_of_each_line(["x = 1", "y = 2"]) == ["", ""]


@pytest.mark.parametrize(
    ("line", "rest"),
    [
        ("2+ DB_PASSWORD=x", "DB_PASSWORD=x"),
        ("- DB_PASSWORD=x", "DB_PASSWORD=x"),
        ("41. DB_PASSWORD=x", "DB_PASSWORD=x"),
        ("7  DB_PASSWORD=x", "DB_PASSWORD=x"),
        ("+DB_PASSWORD=x", "DB_PASSWORD=x"),
        ("DB_PASSWORD=x", "DB_PASSWORD=x"),
        ("+++ b/.env", "+++ b/.env"),
    ],
)
def test_render_prefix(line: str, rest: str) -> None:
    match = re.match(RENDER_PREFIX, line)
    assert match is not None
    assert line[match.end():] == rest
