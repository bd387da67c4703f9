"""Forge requests in ``auditbot_forge_errors_total``: a request that got no answer at all
(the forge's server gone, or silent) counts as ``no_answer``, each attempt as it fails."""

from __future__ import annotations

import pytest
from githubkit.exception import RequestError, RequestTimeout
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from bot.errors import RetryLater
from bot.forges.github.auth import GitHubApp, RetryPolicy
from bot.forges.gitlab.client import GitLabClient
from tests.fakes.fake_github import FakeGitHub
from tests.fakes.fake_gitlab import FakeGitLab
from tests.support.servers import serve_in_thread

from .conftest import APP_ID, INSTALLATION


def no_answers(forge: str) -> float:
    labels = {"forge": forge, "status": "no_answer"}
    return REGISTRY.get_sample_value("auditbot_forge_errors_total", labels) or 0.0


def closed_url(app: object) -> str:
    """The URL a fake forge was served on, after it stopped: connections are refused."""
    with serve_in_thread(app) as url:  # type: ignore[arg-type]
        pass
    return url


def github_app(url: str, keys: tuple[str, str], redis: Redis, timeout_s: float = 10.0) -> GitHubApp:
    return GitHubApp(app_id=APP_ID, private_key=keys[0], redis=redis, api_url=url,
                     timeout_s=timeout_s,
                     retry=RetryPolicy(max_retries=3, max_wait_s=5.0, backoff_s=0.01))


async def test_a_github_that_is_gone_counts_no_answer(
    fake_github: FakeGitHub, app_keys: tuple[str, str], redis: Redis
) -> None:
    app = github_app(closed_url(fake_github.app), app_keys, redis)
    before = no_answers("github")
    with pytest.raises(RequestError):
        # The installation token's request is the first to be refused; not retried.
        await app.client(INSTALLATION).rest.repos.async_get("octo", "demo")
    assert no_answers("github") == before + 1


async def test_a_silent_github_counts_each_attempt_that_timed_out(
    fake_github: FakeGitHub, silent_url: str, app_keys: tuple[str, str], redis: Redis
) -> None:
    # The installation's token from the fake GitHub, kept in Redis as a worker keeps it.
    with serve_in_thread(fake_github.app) as url:
        live = github_app(url, app_keys, redis).client(INSTALLATION)
        await live.rest.repos.async_get("octo", "demo")
    app = github_app(silent_url, app_keys, redis, timeout_s=0.3)
    before = no_answers("github")
    with pytest.raises(RequestTimeout):
        # A GET is idempotent: the first try and RetryPolicy's three retries time out.
        await app.client(INSTALLATION).rest.repos.async_get("octo", "demo")
    assert no_answers("github") == before + 4


async def test_a_gitlab_that_is_gone_counts_each_attempt() -> None:
    fake = FakeGitLab()
    fake.add_project(1, "group/app", commits=set())
    client = GitLabClient(url=closed_url(fake.app), token=fake.token, project=1,
                          max_attempts=3, backoff_s=0.01)
    before = no_answers("gitlab")
    try:
        with pytest.raises(RetryLater):
            await client.get(client.path)  # refused three times, then the queue waits
    finally:
        await client.close()
    assert no_answers("gitlab") == before + 3
