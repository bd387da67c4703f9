"""Hunk context: enclosing scope by tree-sitter per language, fixed lines otherwise."""

from __future__ import annotations

import pytest

from bot.diff.chunking import build_chunks
from bot.diff.context import DEFAULT_CONTEXT_LINES, hunk_views
from bot.diff.parse import parse_patch
from bot.diff.scopes import language_for

# (path, source, line of the changed statement, expected scope kind, expected title start)
SOURCES = [
    (
        "a.py",
        "import os\n\n\ndef load(path):\n    data = read(path)\n    return data\n\n\nx = 1\n",
        5,
        "function_definition",
        "def load(path):",
    ),
    (
        "a.js",
        "const x = 1;\n\nfunction load(path) {\n  const data = read(path);\n  return data;\n}\n",
        4,
        "function_declaration",
        "function load(path) {",
    ),
    (
        "a.ts",
        "export class Repo {\n  load(path: string): string {\n    return read(path);\n  }\n}\n",
        3,
        "method_definition",
        "load(path: string): string {",
    ),
    (
        "a.tsx",
        "export function View(p: {n: number}) {\n  return <div>{p.n}</div>;\n}\n",
        2,
        "function_declaration",
        "export function View",
    ),
    (
        "a.go",
        "package x\n\nfunc Load(path string) string {\n\treturn read(path)\n}\n",
        4,
        "function_declaration",
        "func Load(path string) string {",
    ),
    (
        "A.java",
        "class A {\n  String load(String p) {\n    return read(p);\n  }\n}\n",
        3,
        "method_declaration",
        "String load(String p) {",
    ),
    ("a.rs", "fn load(p: &str) -> String {\n    read(p)\n}\n", 2, "function_item", "fn load"),
    (
        "a.c",
        "#include <stdio.h>\n\nint load(const char *p) {\n  return read(p);\n}\n",
        4,
        "function_definition",
        "int load(const char *p) {",
    ),
    (
        "a.cpp",
        "namespace n {\nint load(const char *p) {\n  return read(p);\n}\n}\n",
        3,
        "function_definition",
        "int load(const char *p) {",
    ),
    (
        "a.rb",
        "class Repo\n  def load(path)\n    read(path)\n  end\nend\n",
        3,
        "method",
        "def load(path)",
    ),
    (
        "a.php",
        "<?php\nfunction load($p) {\n  return read($p);\n}\n",
        3,
        "function_definition",
        "function load($p) {",
    ),
]


def _one_line_change(source: str, line: int) -> str:
    lines = source.split("\n")
    old = lines[line - 1]
    return f"@@ -{line},1 +{line},1 @@\n-{old}  \n+{old}\n"


@pytest.mark.parametrize(
    ("path", "source", "line", "kind", "title"), SOURCES, ids=[s[0] for s in SOURCES]
)
def test_enclosing_scope_per_language(
    path: str, source: str, line: int, kind: str, title: str
) -> None:
    assert language_for(path) is not None
    fd = parse_patch(path, _one_line_change(source, line))
    [view] = hunk_views(fd, source, context_lines=0)
    assert view.scope is not None and view.scope.kind == kind
    assert view.scope_title is not None and view.scope_title.startswith(title)
    shown = [ln.new_lineno for ln in view.lines if ln.new_lineno is not None]
    # The whole scope is shown although no fixed context lines were asked for.
    assert shown == list(range(view.scope.start, view.scope.end + 1))
    assert view.render().split("\n")[0].split(" ", 1)[1].strip().startswith(title)


def test_render_format_is_repeatable() -> None:
    source = "a\nb\nc\nd\ne\nf\ng\n"
    fd = parse_patch("notes.txt", "@@ -3,2 +3,2 @@\n-c\n+C\n d\n")
    [view] = hunk_views(fd, source, context_lines=1)
    assert view.scope is None
    assert view.render().split("\n") == ["2. b", "- c", "3+ C", "4  d"]
    assert [ln.render() for ln in view.lines] == view.render().split("\n")


def test_long_scope_shows_its_title_and_fixed_lines() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(200))
    source = f"def big():\n{body}"
    fd = parse_patch("big.py", "@@ -100,1 +100,1 @@\n-    x98 = 98\n+    x98 = -98\n")
    [view] = hunk_views(fd, source, context_lines=2, max_scope_lines=60)
    rendered = view.render().split("\n")
    assert rendered[0] == "1. def big():"
    assert rendered[1] == "..."
    assert rendered[2] == "98.     x96 = 96"
    assert rendered[3:6] == ["99.     x97 = 97", "-     x98 = 98", "100+     x98 = -98"]
    assert len(rendered) == 2 + 2 + 2 + 2


def test_without_content_only_hunk_lines_and_deleted_file() -> None:
    fd = parse_patch("x.py", "@@ -1,2 +1,2 @@\n-a\n+b\n c\n")
    [view] = hunk_views(fd, None)
    assert [ln.mark for ln in view.lines] == ["-", "+", " "]
    gone = parse_patch("y.py", "@@ -1,2 +0,0 @@\n-a\n-b\n", status="removed")
    [v2] = hunk_views(gone, "ignored")
    assert [ln.mark for ln in v2.lines] == ["-", "-"]
    assert v2.render() == "- a\n- b"


def test_unparsable_source_falls_back_to_fixed_lines() -> None:
    source = "def (:\n" * 30
    fd = parse_patch("bad.py", "@@ -15,1 +15,1 @@\n-def (:\n+def ok():\n")
    [view] = hunk_views(fd, source, context_lines=3)
    shown = [ln.new_lineno for ln in view.lines if ln.new_lineno]
    assert shown[0] >= 12 and shown[-1] <= 18


SANITISED = '''import html


def render_comment(request):
    """The comment as HTML."""
    raw = request.form["comment"]
    cleaned = html.escape(raw)
    author = request.user.name
    stamp = request.now()
    header = f"<b>{author}</b> at {stamp}"
    footer = "<hr>"
    parts = [header]
    parts.append("<p>")
    parts.append(cleaned)
    parts.append("</p>")
    parts.append(footer)
    return "".join(parts)


def unrelated(x):
    return x * 2
'''


def test_a_sanitiser_elsewhere_in_the_enclosing_function_is_still_sent() -> None:
    """The change (line 14) looks like raw HTML output unless the reviewer sees that
    ``cleaned`` was escaped seven lines earlier, far outside any fixed context window."""
    new = SANITISED.replace('parts.append(cleaned)', 'parts.append(cleaned or "(empty)")')
    fd = parse_patch(
        "app/views.py",
        "@@ -12,6 +12,6 @@ def render_comment(request):\n"
        '     parts = [header]\n     parts.append("<p>")\n'
        "-    parts.append(cleaned)\n"
        '+    parts.append(cleaned or "(empty)")\n'
        '     parts.append("</p>")\n     parts.append(footer)\n     return "".join(parts)\n',
    )
    [chunk] = build_chunks([fd], {"app/views.py": new}, budget_tokens=2000, model="gpt-4o")
    assert "7.     cleaned = html.escape(raw)" in chunk.text.split("\n")
    assert DEFAULT_CONTEXT_LINES < 14 - 7  # only the enclosing function brings it in
    # No more than that function: not the next one, not the imports.
    assert "def unrelated(x):" not in chunk.text and "import html" not in chunk.text


def test_code_is_sent_byte_for_byte() -> None:
    lines = ["def f(a):", "\tif a:  # tab-indented, with a comment  ", "\t\treturn 'x'  ",
             "    return None"]
    new = "\n".join(lines) + "\n"
    fd = parse_patch("m.py", "@@ -0,0 +1,4 @@\n" + "".join(f"+{ln}\n" for ln in lines),
                     status="added")
    [chunk] = build_chunks([fd], {"m.py": new}, budget_tokens=1000)
    body = chunk.text.split("\n")[1:]
    assert [ln.split(" ", 1)[1] for ln in body] == lines
