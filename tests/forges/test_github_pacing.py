"""Installation tokens and request pacing shared by worker processes through Redis, against
the fake GitHub: tokens live until a minute before they expire, content-creating requests
of one installation go one at a time at least a second apart, secondary limits are waited
out whether GitHub answers 403 or 429."""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import Callable

import pytest
from githubkit.auth.app import AppAuth
from redis.asyncio import Redis

from bot.forges.base import CheckUpdate
from bot.forges.github.auth import CACHE_PREFIX, GitHubApp
from bot.forges.github.client import GitHubClient
from bot.forges.github.forge import GitHubForge
from tests.fakes.fake_github import FakeGitHub

from .conftest import APP_ID, INSTALLATION
from .test_github import HEAD, PR, setup_pull

TOKEN_KEY = f"{CACHE_PREFIX}:" + AppAuth.INSTALLATION_CACHE_KEY.format(
    issuer=str(APP_ID), installation_id=INSTALLATION, permissions="", repositories="",
    repository_ids="",
)


def worker(make_app: Callable[..., GitHubApp], **options: object) -> GitHubForge:
    """The adapter as one worker process builds it: its own GitHubApp, the shared Redis."""
    return GitHubForge(GitHubClient(make_app(**options), installation_id=INSTALLATION,
                                    owner="octo", repo="demo", bot_login="auditbot[bot]"))


async def test_token_lives_in_redis_until_a_minute_before_expiry(
    fake_github: FakeGitHub, make_app: Callable[..., GitHubApp], redis: Redis
) -> None:
    setup_pull(fake_github)
    await worker(make_app).fetch_change(PR)
    # GitHub's tokens last an hour: kept for 59 minutes.
    assert 3_530_000 < await redis.pttl(TOKEN_KEY) <= 3_540_000
    await redis.delete(TOKEN_KEY)

    fake_github.token_ttl_s = 63  # a token that expires in a minute and three seconds
    forge = worker(make_app)
    await forge.fetch_change(PR)
    await forge.fetch_change(PR)
    assert fake_github.token_requests == 2  # the second fetch reused the token
    left_ms = await redis.pttl(TOKEN_KEY)
    assert 0 < left_ms <= 3_000
    await asyncio.sleep(left_ms / 1000 + 0.2)
    await forge.fetch_change(PR)
    # Renewed while GitHub still accepted the old token: nothing was refused on the way.
    assert fake_github.token_requests == 3
    assert fake_github.refused_tokens == 0


async def test_two_workers_write_one_at_a_time_a_second_apart(
    fake_github: FakeGitHub, make_app: Callable[..., GitHubApp]
) -> None:
    # Production pacing is GitHubApp's default (from_settings passes none): a second.
    assert inspect.signature(GitHubApp).parameters["write_spacing_s"].default == 1.0
    setup_pull(fake_github)
    fake_github.write_spacing_s = 1.0  # GitHub's advice, enforced: a secondary limit if not
    first, second = worker(make_app, write_spacing_s=1.0), worker(make_app, write_spacing_s=1.0)
    await asyncio.gather(first.fetch_change(PR), second.fetch_change(PR))  # tokens first
    await asyncio.gather(
        first.post_comment(PR, "one"), second.post_comment(PR, "two"),
        first.create_check(HEAD, CheckUpdate("queued", "Queued", "Waiting")),
    )
    assert fake_github.secondary_refusals == 0
    assert len(fake_github.write_times) == 3
    gaps = [b - a for a, b in itertools.pairwise(fake_github.write_times)]
    assert min(gaps) >= 1.0


@pytest.mark.parametrize("status", [403, 429], ids=["forbidden", "too-many-requests"])
async def test_secondary_limit_with_retry_after_is_waited_out(
    fake_github: FakeGitHub, github_forge: GitHubForge, status: int
) -> None:
    setup_pull(fake_github)
    fake_github.secondary_status = status
    fake_github.secondary_limits = 1
    comment_id = await github_forge.post_comment(PR, "hello")
    assert fake_github.secondary_refusals == 1
    assert [c["payload"]["body"] for c in fake_github.comments.values()] == ["hello"]
    assert int(comment_id) in fake_github.comments

