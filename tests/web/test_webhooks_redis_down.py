"""Redis stopped: 503 and nothing recorded; back: the same delivery is accepted once.
The Redis here is a private redis-server on a random port, never the shared one."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.events.payloads import github_payload
from tests.events.private_redis import private_redis
from tests.events.webhook_client import (
    WEBHOOK_ENV,
    QueueView,
    SettingsFactory,
    post_github,
    running_app,
)


async def test_redis_down_then_back(make_settings: SettingsFactory, tmp_path: Path) -> None:
    payload = github_payload("pull_request.opened")
    with private_redis(tmp_path, "--appendonly", "yes") as redis_server:
        settings = make_settings(REDIS_URL=redis_server.url, **WEBHOOK_ENV)
        async with running_app(settings) as (_, client):
            redis_server.stop()
            down = await post_github(client, "pull_request", payload, delivery="retry-me")
            assert down.status_code == 503
            assert down.headers["retry-after"] == "10"
            assert down.headers["content-type"] == "application/problem+json"
            assert down.json()["detail"] == "the job queue is unavailable; retry later"

            redis_server.start()
            view = QueueView(redis_server.url)
            try:
                assert view.nothing_queued()  # a fresh server: the 503 left nothing behind
                back = await post_github(client, "pull_request", payload, delivery="retry-me")
                assert back.status_code == 202, back.text
                again = await post_github(client, "pull_request", payload, delivery="retry-me")
                assert again.status_code == 200 and again.json() == {"status": "duplicate"}
                assert len(view.job_ids()) == 1
                assert view.deliveries() == ["auditbot:delivery:github:retry-me"]
            finally:
                view.close()


async def test_events_that_need_no_work_do_not_need_redis(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    with private_redis(tmp_path) as redis_server:
        settings = make_settings(REDIS_URL=redis_server.url, **WEBHOOK_ENV)
        async with running_app(settings) as (_, client):
            redis_server.stop()
            response = await post_github(client, "ping", github_payload("ping"))
            assert response.status_code == 200


async def test_start_up_warns_about_a_redis_that_can_lose_jobs(
    make_settings: SettingsFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    options = ("--appendonly", "no", "--maxmemory-policy", "allkeys-lru")
    with private_redis(tmp_path, *options) as redis_server:
        settings = make_settings(REDIS_URL=redis_server.url, **WEBHOOK_ENV)
        with caplog.at_level(logging.WARNING, logger="bot.jobs.redis_checks"):
            async with running_app(settings):
                pass
    warnings = [r.getMessage() for r in caplog.records if "may lose queued jobs" in r.getMessage()]
    assert len(warnings) == 2
    assert "appendonly yes" in warnings[0] and "noeviction" in warnings[1]
