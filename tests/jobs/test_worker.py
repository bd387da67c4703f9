"""Worker start-up: with APP_SLUG unset the worker learns the App's slug from GitHub
(GET /app, App JWT) and leaves it in Redis for the web process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.asyncio import Redis

from bot.config import Settings
from bot.jobs.contracts import APP_SLUG_KEY
from bot.jobs.worker import learn_app_slug
from tests.fakes.fake_github import FakeGitHub
from tests.support.servers import serve_in_thread

APP_ID = 7007


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def fake(keys: tuple[str, str]) -> FakeGitHub:
    fake = FakeGitHub(app_id=APP_ID, public_key_pem=keys[1], bot_login="octo-audit[bot]")
    return fake


@pytest.fixture
def github_url(fake: FakeGitHub) -> Iterator[str]:
    with serve_in_thread(fake.app) as url:
        yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_the_slug_is_learned_and_shared(
    make_settings: Callable[..., Settings],
    keys: tuple[str, str],
    github_url: str,
    redis: Redis,
    fake: FakeGitHub,
) -> None:
    settings = make_settings(
        APP_ID=str(APP_ID), PRIVATE_KEY=keys[0], GITHUB_API_URL=github_url, WEBHOOK_SECRET="s" * 20
    )
    assert settings.app_slug is None
    assert await learn_app_slug(settings, redis) == "octo-audit"
    assert await redis.get(APP_SLUG_KEY) == b"octo-audit"
    assert fake.requests == [("GET", "/app")]


async def test_an_unreachable_github_does_not_stop_the_worker(
    make_settings: Callable[..., Settings],
    keys: tuple[str, str],
    redis: Redis,
) -> None:
    settings = make_settings(
        APP_ID=str(APP_ID),
        PRIVATE_KEY=keys[0],
        GITHUB_API_URL="http://127.0.0.1:9",
        WEBHOOK_SECRET="s" * 20,
    )
    assert await learn_app_slug(settings, redis) is None
    assert await redis.get(APP_SLUG_KEY) is None


async def test_start_up_uses_the_learned_slug(
    make_settings: Callable[..., Settings],
    keys: tuple[str, str],
    github_url: str,
    redis: Redis,
) -> None:
    from bot.jobs.deps import deps_of
    from bot.jobs.worker import on_shutdown, on_startup

    settings = make_settings(
        APP_ID=str(APP_ID), PRIVATE_KEY=keys[0], GITHUB_API_URL=github_url, WEBHOOK_SECRET="s" * 20
    )
    ctx: dict[str, object] = {"redis": redis, "settings": settings}
    await on_startup(ctx)
    try:
        assert deps_of(ctx).settings.app_slug == "octo-audit"
        assert await redis.get(APP_SLUG_KEY) == b"octo-audit"
    finally:
        await on_shutdown(ctx)


async def test_shutdown_after_a_failed_start_up_hides_nothing(
    make_settings: Callable[..., Settings], redis: Redis
) -> None:
    """arq runs on_shutdown even when on_startup raised: it must not raise a KeyError of
    its own over the real start-up error."""
    from bot.jobs.worker import HEARTBEAT_KEY, on_shutdown

    await redis.zadd(HEARTBEAT_KEY, {"other-worker": 1.0})
    ctx: dict[str, object] = {"redis": redis, "settings": make_settings()}
    await on_shutdown(ctx)  # nothing was made yet: nothing to clean up, no error
    assert await redis.zscore(HEARTBEAT_KEY, "other-worker") == 1.0
