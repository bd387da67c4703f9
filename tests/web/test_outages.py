"""With the database or Redis unreachable, or the schema missing, every API route answers a
503 problem with Retry-After (a browser gets a page), never a 500: over real HTTP, with a
PostgreSQL port nobody listens on and a Redis that was stopped."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.signing import report_url
from bot.store.migrate import upgrade
from bot.web.api import openapi_document
from bot.web.auth import issue_access_token
from bot.web.main import build_app
from tests.events.private_redis import private_redis
from tests.support.servers import free_port, serve_in_thread

LOGIN = {"email": "admin@example.com", "password": "correct horse battery"}


def every_operation(base: str, token: str) -> dict[str, httpx.Response]:
    """Call each documented operation once, authenticated, with a JSON body where it takes
    one; ids are 1."""
    answers = {}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=15) as client:
        for path, operations in openapi_document()["paths"].items():
            url = re.sub(r"\{[^}]+\}", "1", path)
            for method in operations:
                body = LOGIN if path == "/api/v1/auth/login" else {}
                answers[f"{method.upper()} {path}"] = client.request(
                    method.upper(), url, json=body if method in ("post", "patch") else None)
    return answers


def assert_outage_answer(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "10"
    assert response.json() == {"type": "about:blank", "title": "Service Unavailable",
                               "status": 503, "detail": detail}


def test_database_down(make_settings: Callable[..., Settings], redis_url: str) -> None:
    settings = make_settings(REDIS_URL=redis_url,
                             DATABASE_URL=f"postgresql://auditbot@127.0.0.1:{free_port()}/audit")
    with serve_in_thread(build_app(settings)) as base:
        answers = every_operation(base, issue_access_token(settings, 1))
        # A check run's report link: the task is read from the database.
        link = report_url(settings, "t" * 32).replace(settings.public_url, base, 1)
        page = httpx.get(link, headers={"accept": "text/html"}, timeout=15)
    assert not [name for name, r in answers.items() if r.status_code >= 500 and
                r.status_code != 503], {n: r.status_code for n, r in answers.items()}
    assert_outage_answer(answers["POST /api/v1/auth/login"],
                         "the database does not answer; try again later")
    assert_outage_answer(answers["GET /api/v1/projects"],
                         "the database does not answer; try again later")
    # Every route that reads the database (all but a handful that refuse the input first).
    assert sum(r.status_code == 503 for r in answers.values()) >= len(answers) - 5
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "does not answer" in page.text


def test_redis_down(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    with private_redis(tmp_path) as server:
        url = server.url
    settings = make_settings(REDIS_URL=url)
    upgrade(settings.database_url)
    with serve_in_thread(build_app(settings)) as base:
        answers = every_operation(base, issue_access_token(settings, 1))
    assert not [name for name, r in answers.items() if r.status_code >= 500 and
                r.status_code != 503], {n: r.status_code for n, r in answers.items()}
    # Before: a bare 500 (the login throttle counts failures in Redis).
    assert_outage_answer(answers["POST /api/v1/auth/login"],
                         "Redis does not answer; try again later")


def test_schema_missing(make_settings: Callable[..., Settings], redis_url: str) -> None:
    settings = make_settings(REDIS_URL=redis_url)  # never migrated
    with serve_in_thread(build_app(settings)) as base:
        answers = every_operation(base, issue_access_token(settings, 1))
    assert not [name for name, r in answers.items() if r.status_code >= 500 and
                r.status_code != 503], {n: r.status_code for n, r in answers.items()}
    # Before: 500 with "no such table: users" in the log.
    assert_outage_answer(answers["POST /api/v1/auth/login"],
                         "the database is not set up for this version of auditbot yet")


@pytest.mark.postgres
def test_schema_missing_on_postgres(
    make_settings: Callable[..., Settings], redis_url: str, postgres_url: str
) -> None:
    settings = make_settings(REDIS_URL=redis_url, DATABASE_URL=postgres_url)
    with serve_in_thread(build_app(settings)) as base:
        response = httpx.post(f"{base}/api/v1/auth/login", json=LOGIN, timeout=15)
    assert_outage_answer(response, "the database is not set up for this version of auditbot yet")
