"""Conversations run as the worker runs them: real Redis and SQLite, the GitHub adapter
against the fake GitHub (``deps`` from tests/jobs), the GitLab adapter against the fake
GitLab (``gitlab_deps``), and a fake OpenAI-compatible model that answers in prose."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.jobs.deps import JobDeps
from bot.llm.service import build_llm_service
from bot.store.llm_usage import DbUsageSink
from tests.fakes.fake_gitlab import FakeGitLab
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.jobs.conftest import app_keys, deps, fake_github, github_url, job_deps
from tests.support.servers import serve_in_thread

__all__ = ["app_keys", "deps", "fake_github", "github_url"]

MODEL = "m-chat"
KEY = "k-conversation-123"


@pytest.fixture
def fake_llm() -> Iterator[tuple[FakeOpenAI, str]]:
    llm = FakeOpenAI(OpenAIExpect(path="/v1/chat/completions", key=KEY, model=MODEL))
    with serve_in_thread(llm.app) as url:
        yield llm, url


def with_model(settings: Settings, base_url: str, *, window: int = 32_768) -> Settings:
    return settings.model_copy(
        update={
            "llm_provider": "openai_compatible",
            "llm_base_url": f"{base_url}/v1",
            "llm_model": MODEL,
            "llm_api_key": SecretStr(KEY),
            "llm_context_window": window,
            "llm_price_input": 1.0,
            "llm_price_output": 2.0,
        }
    )


@pytest.fixture
async def talk(
    deps: JobDeps, fake_llm: tuple[FakeOpenAI, str]
) -> AsyncIterator[Callable[..., FakeOpenAI]]:
    """``talk(window=...)`` gives ``deps`` a model (served by the fake) and returns the fake."""

    def give(*, window: int = 32_768) -> FakeOpenAI:
        deps.settings = with_model(deps.settings, fake_llm[1], window=window)
        deps.llm = build_llm_service(deps.settings, deps.redis, sink=DbUsageSink(deps.sessions))
        return fake_llm[0]

    yield give
    if deps.llm is not None:
        await deps.llm.aclose()
        deps.llm = None


@pytest.fixture
def fake_gitlab() -> FakeGitLab:
    return FakeGitLab()


@pytest.fixture
def gitlab_url(fake_gitlab: FakeGitLab) -> Iterator[str]:
    with serve_in_thread(fake_gitlab.app) as url:
        yield url


@pytest.fixture
async def gitlab_deps(
    make_settings: Callable[..., Settings],
    fake_gitlab: FakeGitLab,
    gitlab_url: str,
    redis_url: str,
    tmp_path: Path,
) -> AsyncIterator[JobDeps]:
    settings = make_settings(
        GITLAB_URL=gitlab_url,
        GITLAB_TOKEN=fake_gitlab.token,
        GITLAB_WEBHOOK_SECRET="s",
        DATA_DIR=str(tmp_path / "data"),
        REDIS_URL=redis_url,
        JOB_TIMEOUT_S="60",
    )
    async with job_deps(settings, redis_url) as made:
        yield made
