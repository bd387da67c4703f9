"""Fixtures for the forge adapters: a fake GitHub served on loopback, an App key pair,
real Redis for the shared token cache and write pacing."""

from __future__ import annotations

import functools
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.asyncio import Redis

from bot.forges.github.auth import GitHubApp, RetryPolicy
from bot.forges.github.client import GitHubClient
from bot.forges.github.forge import GitHubForge
from tests.fakes.fake_github import FakeGitHub
from tests.support.servers import serve_in_thread

APP_ID = 4242
INSTALLATION = 77


@pytest.fixture(scope="session")
def app_keys() -> tuple[str, str]:
    return _app_keys()


@functools.cache
def _app_keys() -> tuple[str, str]:
    """One key pair per process, whichever conftest re-exports the fixture: githubkit
    caches an App JWT per issuer in the process for 8 minutes (MemCacheStrategy, used by
    AppHooks), so a second key pair for the same APP_ID made later tests send a JWT the
    fake GitHub cannot verify (401), depending on how xdist ordered them."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


@pytest.fixture
def fake_github(app_keys: tuple[str, str]) -> FakeGitHub:
    fake = FakeGitHub(app_id=APP_ID, public_key_pem=app_keys[1])
    fake.add_repo("octo", "demo", INSTALLATION)
    return fake


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that takes connections and never answers them."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def github_url(fake_github: FakeGitHub) -> Iterator[str]:
    with serve_in_thread(fake_github.app) as url:
        yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def make_app(
    app_keys: tuple[str, str], github_url: str, redis: Redis
) -> Callable[..., GitHubApp]:
    """A GitHubApp as one worker process would build it; fast pacing and backoff."""

    def factory(**kwargs: object) -> GitHubApp:
        options: dict[str, object] = {
            "write_spacing_s": 0.05,
            "timeout_s": 10.0,
            "retry": RetryPolicy(max_retries=3, max_wait_s=5.0, backoff_s=0.05),
        }
        options.update(kwargs)
        return GitHubApp(
            app_id=APP_ID,
            private_key=app_keys[0],
            redis=redis,
            api_url=github_url,
            **options,  # type: ignore[arg-type]
        )

    return factory


@pytest.fixture
def github_forge(make_app: Callable[..., GitHubApp]) -> GitHubForge:
    return GitHubForge(
        GitHubClient(
            make_app(),
            installation_id=INSTALLATION,
            owner="octo",
            repo="demo",
            bot_login="auditbot[bot]",
        ),
        post_backoff_s=0.05,
    )
