"""Errors cross arq: a job's exception is pickled into Redis and unpickled by whoever reads
the result (``Job.abort`` does). Every error auditbot defines must survive the round trip
with its message and attributes, whatever its constructor takes."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
from typing import Any

import pytest

import bot
from bot import errors
from bot.errors import AuditbotError, RetryLater


def every_error_class() -> list[type[AuditbotError]]:
    for module in pkgutil.walk_packages(bot.__path__, "bot."):
        if module.name.startswith("bot.migrations") or module.name == "bot.__main__":
            continue
        importlib.import_module(module.name)
    found: list[type[AuditbotError]] = []
    todo: list[type[AuditbotError]] = [AuditbotError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def example_of(cls: type[AuditbotError]) -> AuditbotError:
    """An instance with a value for each parameter, keyword-only ones included."""
    values: dict[str, Any] = {}
    args: list[Any] = []
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = str(param.annotation)
        value: Any = 7 if ("int" in annotation or "float" in annotation) else f"{name}-x"
        if param.default is not param.empty and name != "hint":
            continue
        if param.kind == param.KEYWORD_ONLY:
            values[name] = value
        else:
            args.append(value)
    return cls(*args, **values)


def test_every_error_of_errors_py_is_covered() -> None:
    defined = {c for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, AuditbotError)}
    assert defined <= set(every_error_class())
    assert RetryLater in defined


@pytest.mark.parametrize("cls", every_error_class(), ids=lambda c: c.__qualname__)
def test_errors_pickle_and_unpickle(cls: type[AuditbotError]) -> None:
    error = example_of(cls)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert vars(copy) == vars(error)


def test_retry_later_keeps_its_wait_across_pickle() -> None:
    copy = pickle.loads(pickle.dumps(RetryLater("GitHub answered 502", retry_after=30)))
    assert isinstance(copy, RetryLater) and copy.retry_after == 30
