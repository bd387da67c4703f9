"""The App's own endpoints (App JWT): its slug, and failed webhook deliveries redelivered
once by the reconciler, against the fake GitHub; their failures counted in
``auditbot_forge_errors_total`` as the installation clients' are."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from bot.errors import ForgeError, NotFound, RetryLater
from bot.forges.github.app_hooks import AppHooks
from bot.jobs.reconcile import DELIVERIES_CHECKED_KEY, REDELIVERY_TRIES, redeliver_failed
from tests.fakes.fake_github import FakeGitHub
from tests.support.servers import serve_in_thread

from .conftest import APP_ID


def hooks(app_keys: tuple[str, str], github_url: str) -> AppHooks:
    return AppHooks(app_id=APP_ID, private_key=app_keys[0], api_url=github_url, timeout_s=10)


async def test_slug_comes_from_the_app_record(
    fake_github: FakeGitHub, github_url: str, app_keys: tuple[str, str]
) -> None:
    fake_github.app_slug = "octo-auditor"
    assert await hooks(app_keys, github_url).slug() == "octo-auditor"
    assert ("GET", "/app") in fake_github.requests


async def test_a_wrong_key_says_how_to_fix(
    fake_github: FakeGitHub, github_url: str, app_keys: tuple[str, str]
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    # Another app id too: githubkit caches the App JWT per issuer in the process.
    wrong = AppHooks(app_id=APP_ID + 1, private_key=other, api_url=github_url, timeout_s=10)
    with pytest.raises(ForgeError) as refused:
        await wrong.slug()
    assert refused.value.hint == "check APP_ID and the private key"


def test_fake_refuses_an_installation_token_on_app_endpoints(
    fake_github: FakeGitHub, github_url: str
) -> None:
    fake_github.tokens["ghs_x"] = (77, 1e12)
    for method, path in (("GET", "/app"), ("GET", "/app/hook/deliveries"),
                         ("POST", "/app/hook/deliveries/1/attempts")):
        answer = httpx.request(method, f"{github_url}{path}",
                               headers={"authorization": "token ghs_x"})
        assert answer.status_code == 401, path


async def test_deliveries_follow_the_cursor_and_stop_at_since(
    fake_github: FakeGitHub, github_url: str, app_keys: tuple[str, str]
) -> None:
    now = time.time()
    for index in range(250):
        fake_github.add_delivery(delivered_at=now - index * 10)
    since = datetime.fromtimestamp(int(now) - 1500, UTC)  # the newest 151 (0..1500 s old)
    found = await hooks(app_keys, github_url).deliveries(since)
    assert len(found) == 151
    assert all(d.delivered_at >= since for d in found)
    pages = [p for m, p in fake_github.requests if p == "/app/hook/deliveries"]
    assert len(pages) == 2  # the second page reaches past `since`: no third


async def test_failed_events_are_redelivered(
    fake_github: FakeGitHub, github_url: str, app_keys: tuple[str, str], redis: Redis
) -> None:
    now = time.time()
    ok = fake_github.add_delivery(delivered_at=now - 30)
    refused = fake_github.add_delivery(guid="g-503", status_code=503, delivered_at=now - 20)
    timed_out = fake_github.add_delivery(guid="g-0", status_code=0, delivered_at=now - 10)
    # Failed, then delivered by someone's manual redelivery: nothing to do.
    fake_github.add_delivery(guid="g-fixed", status_code=500, delivered_at=now - 50)
    fake_github.add_delivery(guid="g-fixed", redelivery=True, delivered_at=now - 40)
    # Older than the first look-back: left alone.
    fake_github.add_delivery(guid="g-old", status_code=500,
                             delivered_at=now - timedelta(hours=2).total_seconds())
    app = hooks(app_keys, github_url)

    assert await redeliver_failed(redis, app) == 2
    assert sorted(fake_github.redelivered) == sorted([refused, timed_out])
    assert ok not in fake_github.redelivered
    assert await redis.get(DELIVERIES_CHECKED_KEY) is not None

    # A redelivery that succeeded ends it.
    assert await redeliver_failed(redis, app) == 0
    assert len(fake_github.redelivered) == 2


async def test_an_event_whose_redeliveries_fail_is_asked_for_three_times_at_most(
    fake_github: FakeGitHub, github_url: str, app_keys: tuple[str, str], redis: Redis
) -> None:
    fake_github.add_delivery(guid="g-down", status_code=503, delivered_at=time.time() - 20)
    app = hooks(app_keys, github_url)
    for run in range(5):
        asked = await redeliver_failed(redis, app)
        assert asked == (1 if run < REDELIVERY_TRIES else 0)
        for delivery in fake_github.deliveries:  # our web process is still away
            delivery.update(status_code=503, status="Invalid HTTP Response: 503")
    assert len(fake_github.redelivered) == REDELIVERY_TRIES


def github_errors(status: str) -> float:
    labels = {"forge": "github", "status": status}
    return REGISTRY.get_sample_value("auditbot_forge_errors_total", labels) or 0.0


async def test_error_answers_to_app_calls_count_by_status(
    fake_github: FakeGitHub, github_url: str, app_keys: tuple[str, str]
) -> None:
    """The worker's slug lookup, the reconciler's deliveries and redeliveries, doctor's
    reads: each error answer counts once under its status, as an installation call's."""
    app = hooks(app_keys, github_url)
    before = {s: github_errors(s) for s in ("502", "404", "401")}
    fake_github.inject("GET", r"^/app$", 502)
    fake_github.inject("GET", r"^/app/hook/deliveries$", 502)
    fake_github.inject("POST", r"^/app/hook/deliveries/\d+/attempts$", 404)
    with pytest.raises(RetryLater):
        await app.slug()
    with pytest.raises(RetryLater):
        await app.deliveries(datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(NotFound):
        await app.redeliver(12345)
    wrong = AppHooks(app_id=APP_ID + 7, private_key=app_keys[0], api_url=github_url,
                     timeout_s=10)
    with pytest.raises(ForgeError):
        await wrong.webhook()
    assert await app.slug() == fake_github.app_slug  # an answer that is not an error
    assert {s: github_errors(s) - before[s] for s in before} == {"502": 2, "404": 1, "401": 1}


async def test_app_calls_without_an_answer_count_as_no_answer(
    fake_github: FakeGitHub, silent_url: str, app_keys: tuple[str, str]
) -> None:
    """A GitHub that takes the connection and never answers (the call times out), and one
    that is gone (the connection refused): each call counts once as no_answer."""
    with serve_in_thread(fake_github.app) as url:
        pass  # served, then stopped: its port refuses connections
    before = github_errors("no_answer")
    silent = AppHooks(app_id=APP_ID, private_key=app_keys[0], api_url=silent_url,
                      timeout_s=0.3)
    with pytest.raises(RetryLater):
        await silent.slug()
    assert github_errors("no_answer") == before + 1
    gone = AppHooks(app_id=APP_ID, private_key=app_keys[0], api_url=url, timeout_s=5)
    with pytest.raises(RetryLater):
        await gone.redeliver(1)
    assert github_errors("no_answer") == before + 2
