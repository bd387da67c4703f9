"""A Probot-style registry: pure handlers from a verified delivery to the jobs to enqueue.

    github = Registry("github")

    @github.on("pull_request.opened", "pull_request.synchronize", model=PullRequestEvent)
    def review(delivery: Delivery, event: PullRequestEvent) -> list[JobRequest]: ...

Each event has one pydantic model declaring only the fields its handlers read. The web
process validates a delivery's raw body straight into that model (``parse``): one pass over
the JSON that builds Python objects only for the declared fields, with no dict of the whole
payload (the largest single cost per delivery before, in bench/bench_webhooks.py). A payload
of the wrong shape becomes BadInput, a 400. A handler never touches the network, the
database or Redis; it returns jobs, and an empty list means "valid, nothing to do".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

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


# A handler takes the event's own model; Any keeps each handler's precise type.
Handler = Callable[[Delivery, Any], list[JobRequest]]


class Registry:
    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self._handlers: dict[str, list[Handler]] = {}
        self._models: dict[str, type[BaseModel]] = {}

    def on(self, *names: str, model: type[BaseModel]) -> Callable[[Handler], Handler]:
        """Register a handler for ``event`` (every action) or ``event.action`` names; every
        handler of one event reads the same ``model``."""

        def register(handler: Handler) -> Handler:
            for name in names:
                event = name.partition(".")[0]
                known = self._models.setdefault(event, model)
                if known is not model:
                    raise TypeError(
                        f"{self.forge} {event}: one model per event, not "
                        f"{known.__name__} and {model.__name__}"
                    )
                self._handlers.setdefault(name, []).append(handler)
            return handler

        return register

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def handles(self, event: str, action: str | None) -> bool:
        return event in self._handlers or (
            action is not None and f"{event}.{action}" in self._handlers
        )

    def listens_to(self, event: str) -> bool:
        return event in self._models

    def parse(self, event: str, body: bytes) -> BaseModel | None:
        """``body`` validated as ``event``'s model, straight from the JSON bytes; None when
        no handler listens to ``event`` (the body is then only checked to be a JSON object).
        Raises BadInput for a body that is not a JSON object or not of the event's shape."""
        model = self._models.get(event)
        if model is None:
            check_json_object(body)
            return None
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            raise BadInput(_body_error(event, exc)) from None

    def validate(self, event: str, payload: Mapping[str, Any] | BaseModel) -> BaseModel | None:
        """The same for a payload that is already a dict (tests, redeliveries)."""
        model = self._models.get(event)
        if model is None:
            return None
        if isinstance(payload, model):
            return payload
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            raise BadInput(_shape_error(event, exc)) from None

    def route(self, delivery: Delivery, event: BaseModel) -> list[JobRequest]:
        """Every job the delivery asks for, in handler order."""
        handlers = list(self._handlers.get(delivery.event, ()))
        if delivery.action is not None:
            handlers += self._handlers.get(f"{delivery.event}.{delivery.action}", ())
        jobs: list[JobRequest] = []
        for handler in handlers:
            try:
                jobs.extend(handler(delivery, event))
            except ValidationError as exc:  # a value the job's own model refuses
                raise BadInput(_shape_error(delivery.event, exc)) from None
        return jobs


def check_json_object(body: bytes) -> None:
    """Raises BadInput unless ``body`` is a JSON object."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadInput("body is not a JSON object")


def _body_error(event: str, exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        return f"body is not JSON: {first['msg']}"
    if not first["loc"] and first["type"] in ("model_type", "dict_type", "model_attributes_type"):
        return "body is not a JSON object"
    return _shape_error(event, exc)


def _shape_error(event: str, exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{event} payload is not what the event promises: {where}: {first['msg']}"
