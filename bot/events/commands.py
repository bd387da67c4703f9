"""The command parser for PR and MR comments.

A comment is a command when its first non-blank line is one: ``/audit``, ``/audit full``,
``/audit cancel``, ``/audit help``, or ``@<app slug> review`` (``@<app slug> review full``
works too). Anything after the first line is free text for people. Quoted lines (``> /audit``)
and mentions in the middle of a sentence are not commands, so replying to or quoting a command
never starts a second audit.
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
}


@dataclass(frozen=True, slots=True)
class Command:
    name: CommandName
    argument: str = ""  # what followed an unknown sub-command (answered with help)


def parse_command(body: str | None, app_slug: str | None = None) -> Command | None:
    """The command in a comment body, or None when the comment is not one."""
    if not body:
        return None
    line = _first_line(body)
    if line is None:
        return None
    match = _AUDIT.match(line)
    if match is not None:
        return _subcommand(match.group("rest") or "")
    if app_slug:
        mention = f"@{app_slug.lower()}"
        lowered = line.lower()
        # "@slug review" but not "@slug-other review" nor "@slugreview".
        if lowered.startswith(mention) and lowered[len(mention) : len(mention) + 1] in {" ", "\t"}:
            rest = line[len(mention) :].strip()
            verb, _, tail = rest.partition(" ")
            if verb.lower() in {"review", "audit"}:
                command = _subcommand(tail)
                return command
            if verb.lower() in _SUBCOMMANDS and verb:
                return _subcommand(rest)
    return None


def _first_line(body: str) -> str | None:
    for raw in body.splitlines():
        line = raw.strip()
        if line:
            return line
    return None


def _subcommand(rest: str) -> Command:
    word, _, tail = rest.strip().partition(" ")
    name = _SUBCOMMANDS.get(word.lower())
    if name is None:
        # An unknown sub-command gets the help text, so the person learns the right spelling.
        return Command("help", rest.strip()[:200])
    if name == "review" and tail.strip().lower() == "full":
        return Command("full")
    return Command(name)
