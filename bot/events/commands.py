"""The command parser for PR and MR comments.

A comment is a command when its first non-blank line is one: ``/audit``, ``/audit full``,
``/audit cancel``, ``/audit help``, ``/audit ask <question>``, or ``@<app slug> review``
(``@<app slug> review full`` and ``@<app slug> ask <question>`` work too). Anything after the
first line is free text for people, except for ``ask``, whose question runs to the end of the
comment. Quoted lines (``> /audit``) and mentions in the middle of a sentence are not commands,
so replying to or quoting a command never starts a second audit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.jobs.contracts import CommandName

_AUDIT = re.compile(r"^/audit(?:\s+(?P<rest>.*))?$", re.IGNORECASE)
_SUBCOMMANDS: dict[str, CommandName] = {
    "": "review",
    "review": "review",
    "full": "full",
    "cancel": "cancel",
    "stop": "cancel",
    "help": "help",
    "ask": "ask",
}
# A question goes to the model and is quoted back in the answer: bounded.
QUESTION_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class Command:
    name: CommandName
    # An unknown sub-command's words (answered with help), or the question of ``ask``.
    argument: str = ""


def parse_command(body: str | None, app_slug: str | None = None) -> Command | None:
    """The command in a comment body, or None when the comment is not one."""
    if not body:
        return None
    first = _first_line(body)
    if first is None:
        return None
    line, after = first
    match = _AUDIT.match(line)
    if match is not None:
        return _subcommand(match.group("rest") or "", after)
    if app_slug:
        mention = f"@{app_slug.lower()}"
        lowered = line.lower()
        # "@slug review" but not "@slug-other review" nor "@slugreview".
        if lowered.startswith(mention) and lowered[len(mention) : len(mention) + 1] in {" ", "\t"}:
            rest = line[len(mention) :].strip()
            verb, _, tail = rest.partition(" ")
            if verb.lower() in {"review", "audit"}:
                return _subcommand(tail, after)
            if verb.lower() in _SUBCOMMANDS and verb:
                return _subcommand(rest, after)
    return None


def _first_line(body: str) -> tuple[str, str] | None:
    """The first non-blank line (stripped) and the text after it."""
    lines = body.splitlines()
    for index, raw in enumerate(lines):
        line = raw.strip()
        if line:
            return line, "\n".join(lines[index + 1 :])
    return None


def _subcommand(rest: str, after: str) -> Command:
    word, _, tail = rest.strip().partition(" ")
    name = _SUBCOMMANDS.get(word.lower())
    if name is None:
        # An unknown sub-command gets the help text, so the person learns the right spelling.
        return Command("help", rest.strip()[:200])
    if name == "review" and tail.strip().lower() == "full":
        return Command("full")
    if name == "ask":
        question = f"{tail.strip()}\n{after}".strip()[:QUESTION_LIMIT]
        # "/audit ask" with nothing to ask is answered with the list of commands.
        return Command("ask", question) if question else Command("help", "ask")
    return Command(name)
