"""A running API over real HTTP (uvicorn on 127.0.0.1) on a migrated SQLite (or PostgreSQL)
database and real Redis, with factories that create users, projects, tasks, findings and
LLM usage rows directly in the database."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import zipfile
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest

from bot.config import Settings
from bot.store.db import create_engine, session_factory
from bot.store.migrate import upgrade
from bot.store.models import (
    AuditTask,
    FindingRecord,
    Installation,
    LLMUsage,
    Project,
    ProjectMember,
    User,
)
from bot.web.api import api_routes
from bot.web.app import create_app
from bot.web.auth import hash_password
from bot.web.pages import page_routes
from bot.web.ws import ws_routes
from tests.forges.conftest import app_keys, fake_github, github_url
from tests.support.servers import serve_in_thread

__all__ = ["app_keys", "fake_github", "github_url"]  # fixtures for tests with a GitHub

T = TypeVar("T")
PASSWORD = "correct horse battery"
_HASH = hash_password(PASSWORD)  # one slow hash for every seeded user
_counter = itertools.count(1)


def build_test_app(settings: Settings) -> Any:
    return create_app(settings, [*api_routes(), *page_routes(), *ws_routes()])


@dataclass
class Api:
    base: str
    settings: Settings
    clients: list[httpx.Client] = field(default_factory=list)

    # Database access from the test thread (the server has its own loop in its thread).
    def run(self, work: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
        async def go() -> T:
            engine = create_engine(self.settings.database_url)
            try:
                async with session_factory(engine)() as session:
                    result = await work(session)
                    await session.commit()
                    return result
            finally:
                await engine.dispose()

        return asyncio.run(go())

    def add(self, *rows: Any) -> list[Any]:
        async def work(session: Any) -> list[Any]:
            session.add_all(rows)
            await session.flush()
            return list(rows)

        return self.run(work)

    def user(self, email: str | None = None, *, admin: bool = False) -> User:
        email = email or f"user{next(_counter)}@example.com"
        return self.add(User(email=email, password_hash=_HASH, is_admin=admin))[0]  # type: ignore[no-any-return]

    def project(self, name: str | None = None, *, kind: str = "github", **extra: Any) -> Project:
        n = next(_counter)
        return self.add(Project(kind=kind, full_name=name or f"org/repo{n}",  # type: ignore[no-any-return]
                                external_id=1000 + n if kind in ("github", "gitlab") else None,
                                settings={}, **extra))[0]

    def grant(self, user: User, project: Project) -> None:
        self.add(ProjectMember(user_id=user.id, project_id=project.id))

    def task(self, project: Project | None, **extra: Any) -> AuditTask:
        values: dict[str, Any] = {"kind": "review", "status": "succeeded", "progress": {},
                                  "counts": {}}
        values.update(extra)
        return self.add(AuditTask(project_id=project.id if project else None, **values))[0]  # type: ignore[no-any-return]

    def finding(self, task: AuditTask, **extra: Any) -> FindingRecord:
        n = next(_counter)
        values: dict[str, Any] = {
            "path": "src/app.py", "start_line": 10, "end_line": 12, "severity": "high",
            "category": "security", "title": f"Finding {n}", "message": "Details.",
            "source": "llm:openai/gpt-4o",
            "fingerprint": hashlib.sha256(str(n).encode()).hexdigest()[:32],
        }
        values.update(extra)
        return self.add(FindingRecord(project_id=task.project_id, task_id=task.id, **values))[0]  # type: ignore[no-any-return]

    def usage(self, project: Project | None, **extra: Any) -> LLMUsage:
        values: dict[str, Any] = {"provider": "openai", "model": "gpt-4o", "input_tokens": 100,
                                  "output_tokens": 20, "cost_usd": 0.01}
        values.update(extra)
        return self.add(LLMUsage(project_id=project.id if project else None, **values))[0]  # type: ignore[no-any-return]

    def installation(self, login: str = "acme", **extra: Any) -> Installation:
        return self.add(Installation(forge="github", external_id=next(_counter),  # type: ignore[no-any-return]
                                     account_login=login, **extra))[0]

    # HTTP
    def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        answer = httpx.post(f"{self.base}/api/v1/auth/login",
                            json={"email": email, "password": password})
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.base, headers=headers, timeout=30)
        self.clients.append(client)  # closed when the fixture ends
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def as_user(self, user: User) -> httpx.Client:
        return self.client(self.login(user.email)["access_token"])


def start_api(settings: Settings) -> Iterator[Api]:
    upgrade(settings.database_url)
    with serve_in_thread(build_test_app(settings)) as base:
        api = Api(base=base, settings=settings)
        try:
            yield api
        finally:
            api.close()


@pytest.fixture
def api(make_settings: Callable[..., Settings], redis_url: str) -> Iterator[Api]:
    yield from start_api(make_settings(REDIS_URL=redis_url))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_api(request: pytest.FixtureRequest, make_settings: Callable[..., Settings],
           redis_url: str) -> Iterator[Api]:
    """The API on SQLite, then on PostgreSQL: for queries whose SQL differs per engine."""
    env = {"REDIS_URL": redis_url}
    if request.param == "postgres":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    yield from start_api(make_settings(**env))


@pytest.fixture
def api_factory(
    make_settings: Callable[..., Settings], redis_url: str
) -> Callable[..., Any]:
    """Start the API with extra settings: ``with api_factory(SMTP_URL=...) as api``."""
    from contextlib import contextmanager

    @contextmanager
    def factory(**env: str) -> Iterator[Api]:
        yield from start_api(make_settings(REDIS_URL=redis_url, **env))

    return factory


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def small_zip() -> bytes:
    """The same bytes on every call: writestr with a bare name stamps the current time (to
    two seconds), so two calls straddling a tick used to differ and fail the comparison."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        entry = zipfile.ZipInfo("app.py", date_time=(2026, 1, 1, 0, 0, 0))
        archive.writestr(entry, "import os\nos.system(input())\n")
    return buffer.getvalue()
