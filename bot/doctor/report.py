"""What `auditbot doctor` says: one line per check (ok, warn, fail or skip) and, when a
person must act, a hint under it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Line:
    status: Status
    topic: str  # "settings", "database", "redis", "github", "gitlab", "model"
    text: str
    hint: str | None = None


def ok(topic: str, text: str) -> Line:
    return Line(Status.OK, topic, text)


def warn(topic: str, text: str, hint: str | None = None) -> Line:
    return Line(Status.WARN, topic, text, hint)


def fail(topic: str, text: str, hint: str | None = None) -> Line:
    return Line(Status.FAIL, topic, text, hint)


def skip(topic: str, text: str) -> Line:
    return Line(Status.SKIP, topic, text)


def render(lines: Iterable[Line]) -> str:
    """``ok    database: ...`` with ``      hint: ...`` under a line that has one."""
    out = []
    for line in lines:
        out.append(f"{line.status.value:<5} {line.topic}: {line.text}")
        if line.hint:
            out.append(f"{'':<5}   -> {line.hint}")
    return "\n".join(out) + "\n"


def failed(lines: Iterable[Line]) -> bool:
    return any(line.status is Status.FAIL for line in lines)
