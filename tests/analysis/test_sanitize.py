"""Model text is untrusted: nothing it says can ping, link, embed or forge our markers."""

from __future__ import annotations

import pytest

from bot.analysis.sanitize import sanitize_suggestion, sanitize_text, sanitize_title

HOSTILE = [
    ("ping @octocat and @acme/security now", "ping octocat and acme/security now"),
    ("see ![pixel](https://evil.test/p.png) here", "see pixel here"),
    ("read [the docs](https://evil.test/phish)", "read the docs"),
    ("visit https://evil.test/x?a=1 or www.evil.test", "visit [link removed] or [link removed]"),
    ("<img src=x onerror=alert(1)>bold <b>text</b>", "bold text"),
    ("forged <!-- auditbot:summary --> marker", "forged  marker"),
    ("unterminated <!-- comment", "unterminated"),
    ("a < b and c > d", "a &lt; b and c &gt; d"),
    ("mail me at dev@example.com", "mail me at dev@example.com"),
    ("<https://evil.test>", "[link removed]"),
    ("[ref]: https://evil.test\nbody", "body"),
]


@pytest.mark.parametrize(("raw", "clean"), HOSTILE, ids=[h[0][:24] for h in HOSTILE])
def test_sanitize_text(raw: str, clean: str) -> None:
    assert sanitize_text(raw) == clean


def test_long_text_is_cut() -> None:
    assert len(sanitize_text("x" * 10_000)) == 4000


def test_title_is_one_line() -> None:
    assert sanitize_title("SQL\ninjection   in\tsearch") == "SQL injection in search"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("query = db.execute(sql, (name,))\n", "query = db.execute(sql, (name,))"),
        ("x = 1\r\ny = 2", "x = 1\ny = 2"),
        ("```\nclose the fence", None),
        ("~~~ tilde fence", None),
        (None, None),
    ],
)
def test_sanitize_suggestion(raw: str | None, expected: str | None) -> None:
    assert sanitize_suggestion(raw) == expected
