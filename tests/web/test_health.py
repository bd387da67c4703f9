"""`/healthz`, `/readyz` (which dependency is down, whether the schema is new enough) and
`/metrics`, over real HTTP."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import redis as sync_redis
from arq import create_pool
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Settings
from bot.store.migrate import upgrade
from bot.store.schema import code_revisions
from bot.web.main import build_app
from tests.support.servers import free_port, serve_in_thread


def test_healthz_and_readyz_when_everything_answers(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(REDIS_URL=redis_url)
    upgrade(settings.database_url)
    head, _ = code_revisions()
    with serve_in_thread(build_app(settings)) as base:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ready", "database": "ok", "redis": "ok", "gitlab_hooks": "ok",
            "schema": {"state": "current", "revision": head, "required": head},
        }


def test_readyz_is_503_on_an_unmigrated_database(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    # Before: 200 on an empty schema, and logging in then answered 500 "no such table".
    settings = make_settings(REDIS_URL=redis_url)
    with serve_in_thread(build_app(settings)) as base:
        ready = httpx.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 503
    body = ready.json()
    assert body["down"] == ["database"]
    assert body["database"] == "no auditbot schema in this database: run `auditbot migrate`"
    assert body["schema"]["state"] == "empty"


def test_readyz_is_503_on_an_older_schema(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(REDIS_URL=redis_url)
    upgrade(settings.database_url, "0001")
    head, _ = code_revisions()
    with serve_in_thread(build_app(settings)) as base:
        ready = httpx.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 503
    assert ready.json()["database"] == (
        f"schema at 0001, this code needs {head}: run `auditbot migrate`")


def test_readyz_accepts_a_newer_schema_during_a_rolling_upgrade(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(REDIS_URL=redis_url)
    upgrade(settings.database_url)
    with sqlite3.connect(settings.database_url.split(":///", 1)[1]) as db:
        db.execute("UPDATE alembic_version SET version_num = '9001_from_the_next_release'")
    with serve_in_thread(build_app(settings)) as base:
        ready = httpx.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["schema"]["state"] == "newer"
    assert ready.json()["schema"]["revision"] == "9001_from_the_next_release"


def test_readyz_names_redis_when_it_is_down(make_settings: Callable[..., Settings]) -> None:
    port = free_port()
    settings = make_settings(REDIS_URL=f"redis://127.0.0.1:{port}/0")
    upgrade(settings.database_url)
    with serve_in_thread(build_app(settings)) as base:
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 503
        body = ready.json()
        assert body["down"] == ["redis"]
        assert body["database"] == "ok"
        assert body["redis"] == (f"down: REDIS_URL: cannot connect to Redis at 127.0.0.1:{port}: "
                                 "connection refused (is Redis running and listening there?)")


def test_readyz_names_the_database_when_it_is_down(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    port = free_port()
    settings = make_settings(
        REDIS_URL=redis_url,
        DATABASE_URL=f"postgresql://nobody@127.0.0.1:{port}/nothing",
    )
    with serve_in_thread(build_app(settings)) as base:
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["down"] == ["database"]
        assert ready.json()["database"].startswith(
            f"down: DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:{port}: "
            "connection refused")
        assert "schema" not in ready.json()


def test_metrics_count_requests_by_route(make_settings: Callable[..., Settings]) -> None:
    with serve_in_thread(build_app(make_settings())) as base:
        httpx.get(f"{base}/healthz")
        httpx.get(f"{base}/no-such-page")
        body = httpx.get(f"{base}/metrics").text
    assert 'auditbot_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    assert 'route="unmatched",status="404"' in body


def _queue_figures(body: str) -> dict[str, float]:
    return {
        family.name: family.samples[0].value
        for family in text_string_to_metric_families(body)
        if family.name.startswith("auditbot_queue_")
    }


def test_metrics_show_the_queue_as_redis_holds_it(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    """The web's /metrics reads arq's queue at each scrape, as the workers' exporter does:
    a web process is scraped whether or not any worker exports."""

    async def enqueue() -> None:
        redis = await create_pool(RedisSettings.from_dsn(redis_url))
        due_30s_ago = datetime.now(UTC) - timedelta(seconds=30)
        await redis.enqueue_job("review_pull_request", _job_id="r:running",
                                _defer_until=due_30s_ago)
        await redis.enqueue_job("scan_push", _job_id="s:waiting")
        await redis.enqueue_job("scan_push", _job_id="s:retry-in-a-minute", _defer_by=60)
        # What a worker sets while it runs a job (and deletes when the job ends).
        await redis.set(in_progress_key_prefix + "r:running", b"1", px=60_000)
        await redis.aclose()

    asyncio.run(enqueue())
    with serve_in_thread(build_app(make_settings(REDIS_URL=redis_url))) as base:
        figures = _queue_figures(httpx.get(f"{base}/metrics").text)
        with sync_redis.Redis.from_url(redis_url) as redis:  # the job ended
            redis.delete(in_progress_key_prefix + "r:running")
        later = _queue_figures(httpx.get(f"{base}/metrics").text)
    assert figures["auditbot_queue_depth"] == 3
    assert figures["auditbot_queue_in_progress"] == 1
    assert 29 <= figures["auditbot_queue_oldest_job_age_seconds"] < 60
    assert later["auditbot_queue_in_progress"] == 0


def test_metrics_answer_without_the_queue_when_redis_is_down(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    with serve_in_thread(build_app(settings)) as base:
        answer = httpx.get(f"{base}/metrics", timeout=10)
    assert answer.status_code == 200
    assert _queue_figures(answer.text) == {}
    assert "auditbot_http_requests_total" in answer.text


def test_unknown_route_answers_problem_json(make_settings: Callable[..., Settings]) -> None:
    with serve_in_thread(build_app(make_settings())) as base:
        response = httpx.get(f"{base}/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


def test_a_crash_answers_problem_json_without_internals(
    make_settings: Callable[..., Settings],
) -> None:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from bot.web.app import create_app

    async def crash(request: Request) -> Response:
        raise KeyError("internal-detail-xyz")

    app = create_app(make_settings(), [Route("/crash", crash)])
    with serve_in_thread(app) as base:
        response = httpx.get(f"{base}/crash")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "internal-detail-xyz" not in response.text


def test_the_webhook_fast_lane_is_counted_and_guarded(
    make_settings: Callable[..., Settings],
) -> None:
    """POSTs to a fast-lane path skip the middleware stack: they are still counted under
    their route, a crash still answers one line of problem JSON, and other methods on the
    same path still get the router's answer."""
    from starlette.types import Receive, Scope, Send

    from bot.web.app import FastLane, create_app

    async def crash(scope: Scope, receive: Receive, send: Send) -> None:
        raise KeyError("internal-detail-xyz")

    app = FastLane(create_app(make_settings(), []), {"/hooks/crash": crash})
    with serve_in_thread(app) as base:
        crashed = httpx.post(f"{base}/hooks/crash", content=b"{}")
        other_method = httpx.get(f"{base}/hooks/crash")
        body = httpx.get(f"{base}/metrics").text
    assert crashed.status_code == 500
    assert crashed.headers["content-type"] == "application/problem+json"
    assert crashed.json()["title"] == "Internal Server Error"
    assert "internal-detail-xyz" not in crashed.text
    assert other_method.status_code == 404  # not mounted as a route here: the router's 404
    assert 'auditbot_http_requests_total{method="POST",route="/hooks/crash",status="500"}' in body


def test_a_delivery_is_counted_under_its_route(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(REDIS_URL=redis_url, WEBHOOK_SECRET="s" * 20)
    with serve_in_thread(build_app(settings)) as base:
        unsigned = httpx.post(f"{base}/webhooks/github", content=b"{}")
        wrong_method = httpx.get(f"{base}/webhooks/github")
        body = httpx.get(f"{base}/metrics").text
    assert unsigned.status_code == 401
    assert wrong_method.status_code == 405
    assert (
        'auditbot_http_requests_total{method="POST",route="/webhooks/github",status="401"}' in body
    )
