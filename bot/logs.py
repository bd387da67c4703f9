"""Logging set-up: one logger per module, console lines for people or JSON for machines.

Every line of a delivery or a job carries its id through a context variable, and known
secret values are masked before a line is written.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

delivery_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "delivery_id", default=None
)
task_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)

_secrets: set[str] = set()


def register_secrets(values: Iterable[str | None]) -> None:
    """Values that must never appear in a log line (keys, tokens, webhook secrets)."""
    for value in values:
        if value and len(value) >= 6:
            _secrets.add(value)


def mask(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


@contextmanager
def bind(*, delivery_id: str | None = None, task_id: str | None = None) -> Iterator[None]:
    """Attach a delivery or task id to every log line written inside the block."""
    tokens = []
    if delivery_id is not None:
        tokens.append((delivery_id_var, delivery_id_var.set(delivery_id)))
    if task_id is not None:
        tokens.append((task_id_var, task_id_var.set(task_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.delivery_id = delivery_id_var.get()
        record.task_id = task_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # Masked before encoding: JSON escapes a secret's newlines or quotes, and the
        # escaped form would no longer match the registered value.
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        for key in ("delivery_id", "task_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = mask(str(value))
        if record.exc_info:
            entry["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(context)s%(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        delivery_id = getattr(record, "delivery_id", None)
        task_id = getattr(record, "task_id", None)
        if delivery_id:
            parts.append(f"delivery={delivery_id}")
        if task_id:
            parts.append(f"task={task_id}")
        record.context = (" ".join(parts) + " ") if parts else ""
        return mask(super().format(record))


def setup_logging(level: str = "INFO", fmt: str = "console") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.set_name("auditbot")
    root = logging.getLogger()
    # Replace only our own handler: a host (pytest, uvicorn) may have added its own.
    for existing in list(root.handlers):
        if existing.get_name() == "auditbot":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party loggers that would otherwise print request URLs with tokens at DEBUG.
    for noisy in ("httpx", "httpcore", "urllib3", "hishel"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # Alembic announces each of its plugins at INFO when imported (startup checks read the
    # schema's revision) and each migration step: the outcome is what `migrate` prints.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
