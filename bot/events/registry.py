"""A Probot-style registry: pure handlers from a verified delivery to the jobs to enqueue.

    github = Registry("github")

    @github.on("pull_request.opened", "pull_request.synchronize")
    def review(delivery: Delivery, payload: Mapping[str, Any]) -> list[JobRequest]: ...

A handler never touches the network, the database or Redis; it reads the payload (validating
the part it needs with a pydantic model, so a payload of the wrong shape becomes BadInput, a
400) and returns jobs. An empty list means "valid, nothing to do".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.errors import BadInput
from bot.jobs.contracts import Forge, JobRequest


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the web process knows about a verified delivery besides its body."""

    forge: Forge
    event: str  # GitHub: X-GitHub-Event; GitLab: the payload's object_kind
    action: str | None
    delivery_id: str
    app_slug: str | None = None


Handler = Callable[[Delivery, Mapping[str, Any]], list[JobRequest]]


class Registry:
    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self._handlers: dict[str, list[Handler]] = {}

    def on(self, *names: str) -> Callable[[Handler], Handler]:
        """Register a handler for ``event`` (every action) or ``event.action`` names."""

        def register(handler: Handler) -> Handler:
            for name in names:
                self._handlers.setdefault(name, []).append(handler)
            return handler

        return register

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def handles(self, event: str, action: str | None) -> bool:
        return event in self._handlers or (
            action is not None and f"{event}.{action}" in self._handlers
        )

    def route(self, delivery: Delivery, payload: Mapping[str, Any]) -> list[JobRequest]:
        """Every job the delivery asks for, in handler order; raises BadInput on a bad shape."""
        handlers = list(self._handlers.get(delivery.event, ()))
        if delivery.action is not None:
            handlers += self._handlers.get(f"{delivery.event}.{delivery.action}", ())
        jobs: list[JobRequest] = []
        for handler in handlers:
            try:
                jobs.extend(handler(delivery, payload))
            except ValidationError as exc:
                raise BadInput(_shape_error(delivery, exc)) from None
        return jobs


def _shape_error(delivery: Delivery, exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    name = delivery.event + (f".{delivery.action}" if delivery.action else "")
    return f"{name} payload is not what the event promises: {where}: {first['msg']}"
