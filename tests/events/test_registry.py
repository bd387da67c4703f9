"""The registry's own rules: one model per event, bodies validated straight from JSON."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from bot.errors import BadInput
from bot.events.github import github
from bot.events.github_models import PullRequestEvent
from bot.events.registry import Delivery, Registry
from bot.jobs.contracts import JobRequest
from tests.events.payloads import github_payload


class One(BaseModel):
    action: str | None = None


class Other(BaseModel):
    action: str | None = None


def nothing(delivery: Delivery, event: BaseModel) -> list[JobRequest]:
    return []


def test_two_models_for_one_event_are_refused_at_registration() -> None:
    registry = Registry("github")
    registry.on("pull_request.opened", model=One)(nothing)
    registry.on("pull_request.closed", model=One)(nothing)  # same model: fine
    with pytest.raises(TypeError, match="one model per event"):
        registry.on("pull_request.edited", model=Other)(nothing)


def test_a_body_is_validated_as_its_events_model() -> None:
    import orjson

    body = orjson.dumps(github_payload("pull_request.opened"))
    event = github.parse("pull_request", body)
    assert isinstance(event, PullRequestEvent)
    assert (event.action, event.pull_request.number) == ("opened", 2)
    assert github.parse("star", body) is None  # no handler listens: only checked to be JSON


@pytest.mark.parametrize(
    ("event", "body", "message"),
    [
        ("pull_request", b"{not json", "body is not JSON"),
        ("pull_request", b"[1, 2]", "body is not a JSON object"),
        ("pull_request", b'{"action": "opened"}', "pull_request: Field required"),
        ("star", b"{not json", "body is not JSON"),
        ("star", b'"text"', "body is not a JSON object"),
    ],
)
def test_bad_bodies_say_what_is_wrong(event: str, body: bytes, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        github.parse(event, body)
