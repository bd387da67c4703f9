"""Checks on the model's findings against what the model was shown: the quoted code must be
in the chunk, and the lines must be lines the chunk showed for that path."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

_SPACE = re.compile(r"\s+")


def normalise_code(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def quote_is_in(quote: str | None, shown_code: str) -> bool:
    """True when the quote (whitespace-normalised, line-number prefixes removed) is in the code.

    A finding without a quote is not verified: the model was asked for one on every finding.
    """
    if not quote or not quote.strip():
        return False
    cleaned = "\n".join(_strip_number_prefix(line) for line in quote.splitlines())
    needle = normalise_code(cleaned)
    if len(needle) < 3:
        return False
    return needle in normalise_code(shown_code)


_PREFIX = re.compile(r"^\s*\d+\s*[|:+\- ]\s?")


def _strip_number_prefix(line: str) -> str:
    # The model sometimes repeats the "  42 + " prefix the chunk shows before each line.
    return _PREFIX.sub("", line, count=1)


def lines_were_shown(path: str, start: int, end: int, shown: Mapping[str, Collection[int]]) -> bool:
    lines = shown.get(path)
    if not lines:
        return False
    return start in lines or end in lines
