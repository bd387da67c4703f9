"""Every example of every GitHub event in @octokit/webhooks-examples gets a 2xx, never a 5xx
(tests/fixtures/github/all: the package's api.github.com and GHES examples)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.events.payloads import github_examples
from tests.events.webhook_client import WEBHOOK_ENV, SettingsFactory, post_github, running_app

EXAMPLES = github_examples()


@pytest.fixture
async def client(
    make_settings: SettingsFactory, redis_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(make_settings(REDIS_URL=redis_url, **WEBHOOK_ENV)) as (_, client):
        yield client


def test_the_copy_holds_the_whole_package() -> None:
    events = {event for event, _, _ in EXAMPLES}
    assert len(events) >= 58 and len(EXAMPLES) >= 329  # api.github.com alone has 58 and 329


@pytest.mark.parametrize(
    ("event", "index", "payload"),
    EXAMPLES,
    ids=[f"{event}-{index}-{payload.get('action', '')}" for event, index, payload in EXAMPLES],
)
async def test_every_example_gets_a_2xx(
    client: httpx.AsyncClient, event: str, index: int, payload: dict[str, Any]
) -> None:
    response = await post_github(client, event, payload)
    assert response.status_code in (200, 202), response.text
