"""Whether a rule's match sits in code or in text: a string literal or a comment.

Rules written as regular expressions also match where code is only quoted: a docstring that
says ``eval(repr(x)) == x``, an error message that names ``verify=False``. For Python the
tokenizer knows exactly which columns are strings and comments, docstrings over several lines
included; other languages (and Python that does not tokenize) get a one-line reading.
Either way only plain text is ruled out: f-strings and braces inside strings may hold code.
"""

from __future__ import annotations

import io
import tokenize

_QUOTES = frozenset("'\"`")
_END = 1 << 30  # a column past the end of any line
# Python 3.12 splits f-strings into tokens; FSTRING_MIDDLE is their literal text.
_FSTRING_MIDDLE = getattr(tokenize, "FSTRING_MIDDLE", None)

Spans = dict[int, list[tuple[int, int]]]  # 1-based line -> [start, end) columns of text


class CodeMap:
    """One file's answer to "is column c of line n code?", tokenizing Python at most once."""

    def __init__(self, language: str, content: str, comment_markers: tuple[str, ...]) -> None:
        self._python = language == "python"
        self._content = content
        # "*" opens a comment only at the start of a line; mid-line it multiplies.
        self._markers = tuple(m for m in comment_markers if m != "*")
        self._spans: Spans | None = None
        self._tokenized = False

    def in_code(self, number: int, line: str, column: int) -> bool:
        if self._python:
            if not self._tokenized:
                self._spans, self._tokenized = python_text_spans(self._content), True
            if self._spans is not None:
                return not any(a <= column < b for a, b in self._spans.get(number, ()))
        return line_in_code(line, column, self._markers)


def python_text_spans(content: str) -> Spans | None:
    """Columns of Python string literals (not f-strings) and comments per line; None when
    the file does not tokenize (a fragment, a syntax error)."""
    spans: Spans = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(content).readline):
            text = token.type == tokenize.COMMENT or token.type == _FSTRING_MIDDLE or (
                token.type == tokenize.STRING and not _is_fstring(token.string)
            )
            if text:
                _add(spans, token.start, token.end)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    return spans


def _is_fstring(literal: str) -> bool:
    prefix = literal[: len(literal) - len(literal.lstrip("rRbBuUfF"))]
    return "f" in prefix.lower()


def _add(spans: Spans, start: tuple[int, int], end: tuple[int, int]) -> None:
    (first, first_col), (last, last_col) = start, end
    for row in range(first, last + 1):
        spans.setdefault(row, []).append(
            (first_col if row == first else 0, last_col if row == last else _END)
        )


def line_in_code(line: str, offset: int, comment_markers: tuple[str, ...]) -> bool:
    """Whether ``offset`` in ``line`` may be code, as far as the line alone shows: outside
    string literals (', " and ` with backslash escapes; a triple quote reads as three) and
    before a comment. Braces inside a string may hold code (f"{eval(x)}", `${...}`,
    "#{...}"), so a match inside them counts. A line inside a multi-line string looks like
    code here: the check only ever drops what is plainly text."""
    quote: str | None = None
    braces = 0  # open { inside the current string
    index = 0
    while index < offset:
        char = line[index]
        if quote is not None:
            if char == "\\":
                index += 2
                continue
            if char == "{":
                braces += 1
            elif char == "}" and braces:
                braces -= 1
            elif char == quote:
                quote, braces = None, 0
        elif char in _QUOTES:
            quote = char
        elif comment_markers and line.startswith(comment_markers, index):
            return False
        index += 1
    return quote is None or braces > 0
