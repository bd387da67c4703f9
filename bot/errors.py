"""The one error root of auditbot and its small tree.

Each error carries its context and, where a person must act, says how to fix it.
Exceptions become HTTP answers in one place (``bot/web/errors.py``); "try later" is an
exception that carries ``retry_after`` (arq's ``Retry(defer=...)`` in the worker).
"""

from __future__ import annotations

from typing import Any


class AuditbotError(Exception):
    """Root of every error auditbot raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # arq pickles a job's exception into Redis and unpickles it when anyone reads the
        # result (Job.abort does). Exception's own pickling calls ``cls(*args)``, which a
        # subclass with keyword-only or other arguments (RetryLater's retry_after) refuses:
        # rebuild from the attributes instead, whatever the constructor takes.
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[AuditbotError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ConfigError(AuditbotError):
    """A setting is missing, invalid or contradicts another; names the variable."""

    def __init__(self, variable: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{variable}: {message}", hint=hint)
        self.variable = variable


class RetryLater(AuditbotError):
    """The operation may succeed later; ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: float, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class BadInput(AuditbotError):
    """Input from outside (a webhook body, an upload, a config file) is not what it claims."""


class NotFound(AuditbotError):
    """The object does not exist or the caller may not know that it exists."""


class Unavailable(AuditbotError):
    """A service auditbot needs (the database, Redis) does not answer or refuses it; names
    the setting that points at it."""

    def __init__(self, variable: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{variable}: {message}", hint=hint)
        self.variable = variable


class ForgeError(AuditbotError):
    """GitHub or GitLab refused a request in a way retrying will not fix."""


class LLMError(AuditbotError):
    """A model provider failed in a way that retrying the same call will not fix.
    ``reason`` is short, for a summary line."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = message


class BudgetExceeded(LLMError):
    """A budget (``scope`` is "task", "project" or "installation") has no room for the call."""

    def __init__(self, scope: str, limit_usd: float, needed_usd: float) -> None:
        super().__init__(
            f"the {scope} budget of ${limit_usd:.2f} has no room for a call estimated at "
            f"${needed_usd:.4f}; LLM analysis stops, offline analyzers still run",
            hint="raise the budget in settings or through the API",
        )
        self.scope = scope
        self.limit_usd = limit_usd
        self.needed_usd = needed_usd
        self.reason = f"{scope} budget exhausted"
