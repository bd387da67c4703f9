"""Every `auditbot ...` command the README and docs/ show is one the command line accepts:
its subcommand exists, its options exist, it passes no argument the command does not take,
and a literal option value is one the option accepts. A synopsis (`[--base REF]`, `a|b`)
is checked for its option names only."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\s*$")
INLINE = re.compile(r"`(auditbot [^`]+)`")
SHELL_BLOCKS = {"sh", "bash", "shell", "console"}
# An option value written as a placeholder: EMAIL, REF, FILE, SEVERITY, ...
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class Shown:
    where: str
    line: str


def shown_commands(path: Path) -> list[Shown]:
    """`auditbot` lines of shell blocks (indented lines continue the one before) and inline
    code spans that start with `auditbot `."""
    found: list[Shown] = []
    in_block, shell = False, False
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        fence = FENCE.match(line.strip())
        if fence:
            in_block, shell = not in_block, fence.group(1) in SHELL_BLOCKS
            continue
        where = f"{path.relative_to(ROOT)}:{number}"
        if in_block and shell:
            text = line.strip().removeprefix("$ ")
            if text.startswith("auditbot "):
                found.append(Shown(where, text))
            elif line.startswith((" ", "\t")) and found and found[-1].where.startswith(
                f"{path.relative_to(ROOT)}:"
            ) and int(found[-1].where.rsplit(":", 1)[1]) == number - 1:
                found[-1] = Shown(where, f"{found[-1].line} {text}")
            continue
        if not in_block:
            found.extend(Shown(where, match) for match in INLINE.findall(line))
    return found


def without_comment(line: str) -> str:
    return re.split(r"\s#\s", line, maxsplit=1)[0].strip()


def problem(line: str) -> str | None:
    """Why the command line would refuse ``line``; None when it accepts it."""
    try:
        words = shlex.split(without_comment(line))
    except ValueError as exc:
        return f"cannot split: {exc}"
    args = words[1:]
    if not args or args[0].startswith("-"):
        return None if not args or args[0] in {"--help", "-h", "--version"} else "bad option"
    command = main.commands.get(args[0])
    if command is None:
        return f"no command {args[0]!r} (commands: {', '.join(sorted(main.commands))})"
    rest = args[1:]
    if any(ch in word for word in rest for ch in "[]|") or "..." in rest:
        names = {name for param in command.params for name in getattr(param, "opts", [])}
        names |= {"--help", "-h"}
        for word in rest:
            for option in re.findall(r"--?[a-z][a-z-]*", word):
                if option not in names:
                    return f"{args[0]} has no option {option}"
        return None
    return _parse(command, rest)


def _parse(command: click.Command, args: list[str]) -> str | None:
    if "--help" in args or "-h" in args:
        return None
    context = click.Context(command, info_name=command.name)
    try:
        values, extra, _ = command.make_parser(context).parse_args(args)
    except click.UsageError as exc:
        return exc.format_message()
    positional = [p for p in command.params if isinstance(p, click.Argument)]
    if any(p.nargs < 0 for p in positional):
        allowed = len(extra)
    else:
        allowed = sum(p.nargs for p in positional)
    if len(extra) > allowed:
        return f"{command.name} takes no argument {extra[allowed:]}"
    for param in command.params:
        value = values.get(param.name or "")
        if value is None or isinstance(param, click.Argument):
            continue
        if isinstance(value, str) and PLACEHOLDER.match(value):
            continue
        try:
            param.type_cast_value(context, value)
        except click.BadParameter as exc:
            return exc.format_message()
    return None


SHOWN = [shown for path in DOCUMENTS for shown in shown_commands(path)]


def test_the_documents_show_commands() -> None:
    lines = {shown.line.split()[1] for shown in SHOWN if len(shown.line.split()) > 1}
    assert {"serve", "worker", "migrate", "review", "createuser", "providers"} <= lines


@pytest.mark.parametrize("shown", SHOWN, ids=[s.where for s in SHOWN])
def test_shown_command_is_accepted(shown: Shown) -> None:
    assert problem(shown.line) is None, f"{shown.where}: `{shown.line}`: {problem(shown.line)}"


@pytest.mark.parametrize(
    "line",
    [
        "auditbot createuser --admin EMAIL",
        "auditbot review --nope",
        "auditbot review --format pdf",
        "auditbot serve --port PORT --color",
        "auditbot nosuch",
        "auditbot review [--base REF] [--colour]",
    ],
)
def test_the_check_refuses_what_the_cli_refuses(line: str) -> None:
    assert problem(line) is not None
