"""Every request to a forge is bounded by the client's timeout: a forge that takes the
connection and never answers fails the call with RetryLater (which the jobs' retry policy
turns into arq's Retry) within about the timeout, and counts as ``no_answer``; the job is
not held until its time limit.

The forge here is a real listening socket that accepts connections and never answers.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from arq import Retry
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from bot.errors import RetryLater
from bot.forges.github.app_hooks import AppHooks
from bot.forges.github.auth import GitHubApp, RetryPolicy
from bot.forges.github.client import GitHubClient
from bot.forges.gitlab.client import GitLabClient
from bot.jobs.retry import retry_policy

from .conftest import APP_ID, INSTALLATION

TIMEOUT_S = 0.5
# Far below JOB_TIMEOUT_S; a call that waits longer than this did not honour TIMEOUT_S.
BOUND_S = 5.0


def no_answers(forge: str) -> float:
    labels = {"forge": forge, "status": "no_answer"}
    return REGISTRY.get_sample_value("auditbot_forge_errors_total", labels) or 0.0


def silent_client(url: str, keys: tuple[str, str], redis: Redis) -> GitHubClient:
    app = GitHubApp(app_id=APP_ID, private_key=keys[0], redis=redis, api_url=url,
                    timeout_s=TIMEOUT_S,
                    retry=RetryPolicy(max_retries=3, max_wait_s=5.0, backoff_s=0.01))
    return GitHubClient(app, installation_id=INSTALLATION, owner="octo", repo="demo")


async def test_a_silent_github_fails_the_token_exchange_within_the_timeout(
    silent_url: str, app_keys: tuple[str, str], redis: Redis
) -> None:
    client = silent_client(silent_url, app_keys, redis)
    await client.app.forget_token(INSTALLATION)  # none cached: the token must be fetched
    await client.open()
    before = no_answers("github")
    started = time.monotonic()
    try:
        with pytest.raises(RetryLater, match="GitHub did not answer") as raised:
            async with asyncio.timeout(BOUND_S):
                await client.call(lambda: client.gh.rest.repos.async_get("octo", "demo"),
                                  what="reading the repository")
    finally:
        await client.close()
    assert time.monotonic() - started < BOUND_S
    assert "/access_tokens" in str(raised.value)  # it was the token exchange that timed out
    # The token's POST is not repeated by RetryPolicy (not idempotent): one attempt.
    assert no_answers("github") == before + 1


async def test_a_silent_github_becomes_arqs_retry_through_the_jobs_retry_policy(
    silent_url: str, app_keys: tuple[str, str], redis: Redis
) -> None:
    client = silent_client(silent_url, app_keys, redis)

    @retry_policy
    async def job(ctx: dict[str, object]) -> str:
        await client.call(lambda: client.gh.rest.repos.async_get("octo", "demo"),
                          what="reading the repository")
        return "done"

    with pytest.raises(Retry):
        async with asyncio.timeout(BOUND_S):
            await job({"job_try": 1, "job_id": None})


async def test_a_silent_github_fails_an_app_jwt_call_within_the_timeout(
    silent_url: str, app_keys: tuple[str, str]
) -> None:
    hooks = AppHooks(app_id=APP_ID, private_key=app_keys[0], api_url=silent_url,
                     timeout_s=TIMEOUT_S)
    started = time.monotonic()
    with pytest.raises(RetryLater):
        async with asyncio.timeout(BOUND_S):
            await hooks.app()
    assert time.monotonic() - started < BOUND_S


async def test_a_silent_gitlab_fails_within_the_timeout(silent_url: str) -> None:
    client = GitLabClient(url=silent_url, token="glpat-x", project=1, timeout_s=TIMEOUT_S,
                          max_attempts=2, backoff_s=0.01)
    before = no_answers("gitlab")
    started = time.monotonic()
    try:
        with pytest.raises(RetryLater):
            async with asyncio.timeout(BOUND_S):
                await client.get(client.path)
    finally:
        await client.close()
    assert time.monotonic() - started < BOUND_S
    assert no_answers("gitlab") == before + 2
