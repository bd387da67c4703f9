from __future__ import annotations

import pytest

from bot.events.commands import QUESTION_LIMIT, Command, parse_command


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/audit", Command("review")),
        ("  /audit  \n", Command("review")),
        ("/AUDIT", Command("review")),
        ("/audit full", Command("full")),
        ("/audit   full", Command("full")),
        ("/audit cancel", Command("cancel")),
        ("/audit help", Command("help")),
        ("/audit review full", Command("full")),
        ("\n\n/audit full\nplease look at the parser too", Command("full")),
        ("/audit frobnicate now", Command("help", "frobnicate now")),
        ("@auditbot review", Command("review")),
        ("@AuditBot review full", Command("full")),
        ("@auditbot help", Command("help")),
        ("@auditbot cancel", Command("cancel")),
        ("/audit ask is db.py:40 injectable?", Command("ask", "is db.py:40 injectable?")),
        ("/audit ask\nwhy ask?\n\nmore", Command("ask", "why ask?\n\nmore")),
        ("@auditbot ask what does this change do?", Command("ask", "what does this change do?")),
        ("/audit ask", Command("help", "ask")),
    ],
    ids=lambda value: repr(value) if isinstance(value, str) else None,
)
def test_commands(body: str, expected: Command) -> None:
    assert parse_command(body, "auditbot") == expected


@pytest.mark.parametrize(
    "body",
    [
        None,
        "",
        "   \n  ",
        "/auditing is great",
        "/audits",
        "> /audit",
        "LGTM\n/audit",
        "please /audit this",
        "`/audit`",
        "@auditbot-other review",
        "@auditbotreview",
        "@auditbot thanks!",
        "@someone review",
    ],
    ids=repr,
)
def test_not_commands(body: str | None) -> None:
    assert parse_command(body, "auditbot") is None


def test_mention_needs_a_known_slug() -> None:
    assert parse_command("@auditbot review", None) is None
    assert parse_command("/audit", None) == Command("review")


def test_a_long_question_is_cut() -> None:
    command = parse_command("/audit ask " + "why " * 1000, "auditbot")
    assert command is not None and command.name == "ask"
    assert len(command.argument) == QUESTION_LIMIT
