"""Issue 16's three bugs, through the worker as `auditbot worker` runs it: each job is
enqueued by name on real Redis with a JSON payload, as the web process enqueues it, and run
by arq under ``worker_settings``; the fake GitHub plays the fault; the assertions are on what
GitHub received.

- GitHub keeps a secondary rate limit up past the client's own retries: arq runs the push
  scan or the `/audit` command again after GitHub's wait, and its check run is concluded
  (it used to fail for good with no check run: only the review job turned "try later" into
  arq's Retry);
- GitHub truncates a tree: the scan's check run says it covered only part of the repository;
- a scan outlasts its time limit: the job concludes its check run as timed out, before
  arq's own JOB_TIMEOUT_S kills it.

Also: a job that starts after its task was cancelled ends cancelled and publishes nothing
(its start used to set the row back to "running").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from arq.connections import RedisSettings, create_pool
from arq.jobs import Job
from sqlalchemy import func, select

from bot.config import Settings
from bot.jobs import endings
from bot.jobs.lifecycle import end_task
from bot.store import audits
from bot.store.db import create_engine, session_factory
from bot.store.migrate import upgrade
from bot.store.models import FindingRecord
from tests.fakes.fake_github import FakeGitHub, Pull, PullFile
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.jobs.conftest import APP_ID, INSTALLATION
from tests.support.servers import serve_in_thread
from tests.support.workers import run_queued_jobs

# Real waits: GitHub's retry-after of 1 s, doubled by the client's own three retries.
pytestmark = pytest.mark.timeout(90)

CODE = 'import subprocess\n\n\ndef run(x):\n    subprocess.call("ls " + x, shell=True)\n'
PATCH = "@@ -0,0 +1,5 @@\n" + "\n".join("+" + line for line in CODE.splitlines())
BEFORE, AFTER, HEAD = "a" * 40, "b" * 40, "c" * 40
REPOSITORY = {"forge": "github", "id": 4321, "full_name": "octo/demo",
              "default_branch": "main", "installation_id": INSTALLATION}
# The client waits out a short secondary limit itself, up to three times (1 + 2 + 4 s);
# a fourth refusal in a row is arq's to wait out.
BEYOND_THE_CLIENT = 4
LLM_KEY, LLM_MODEL = "k-0123456789", "slow-model"


@pytest.fixture
def github_env(app_keys: tuple[str, str], github_url: str, redis_url: str) -> dict[str, str]:
    return {"APP_ID": str(APP_ID), "PRIVATE_KEY": app_keys[0], "WEBHOOK_SECRET": "s",
            "GITHUB_API_URL": github_url, "GITHUB_WRITE_SPACING_S": "0",
            "APP_SLUG": "auditbot", "REDIS_URL": redis_url}


@pytest.fixture
def settings(make_settings: Callable[..., Settings], github_env: dict[str, str]) -> Settings:
    made = make_settings(**github_env)
    upgrade(made.database_url)
    return made


def push(fake: FakeGitHub) -> dict[str, Any]:
    repo = fake.repos["octo/demo"]
    repo.trees[AFTER] = {"tool.py": CODE.encode()}
    repo.trees["main"] = {"tool.py": CODE.encode()}
    repo.comparisons[(BEFORE, AFTER)] = (BEFORE, [PullFile("tool.py", "added", PATCH, 5, 0)])
    return {"repository": REPOSITORY, "delivery_id": "d-push", "ref": "refs/heads/main",
            "before": BEFORE, "after": AFTER}


def command(fake: FakeGitHub, name: str) -> dict[str, Any]:
    """``/audit <name>`` by alice, who has write access, on pull request 5."""
    repo = fake.repos["octo/demo"]
    repo.pulls[5] = Pull(5, "d" * 40, HEAD, [PullFile("tool.py", "added", PATCH, 5, 0)])
    repo.trees[HEAD] = {"tool.py": CODE.encode()}
    repo.trees["main"] = {}
    fake.roles["alice"] = "write"
    return {"repository": REPOSITORY, "delivery_id": f"d-{name}", "number": 5,
            "command": name, "author": "alice", "comment_id": 11}


async def run_job(settings: Settings, name: str, payload: dict[str, Any]) -> None:
    """Enqueue ``name`` as the web process does, then let the worker run the queue dry."""
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        await pool.enqueue_job(name, payload, _job_id=f"{name}:test")
    finally:
        await pool.aclose()
    await run_queued_jobs(settings)


def the_check_run(fake: FakeGitHub) -> dict[str, Any]:
    runs = list(fake.check_runs.values())
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize(
    ("job", "refused", "head"),
    [
        ("scan_push", ("POST", r"/check-runs$"), AFTER),
        ("run_command", ("GET", r"/pulls/5$"), HEAD),  # `/audit review`
    ],
    ids=["push-scan", "audit-command"],
)
async def test_a_job_outlasting_a_secondary_limit_is_run_again_by_arq(
    settings: Settings, fake_github: FakeGitHub, job: str, refused: tuple[str, str], head: str
) -> None:
    payload = push(fake_github) if job == "scan_push" else command(fake_github, "review")
    fake_github.inject(*refused, 403, times=BEYOND_THE_CLIENT, retry_after=1)
    await run_job(settings, job, payload)
    assert fake_github.secondary_refusals == BEYOND_THE_CLIENT
    run = the_check_run(fake_github)
    assert (run["head_sha"], run["status"], run["conclusion"]) == (head, "completed", "failure")


async def test_a_scan_of_a_truncated_tree_says_so_on_its_check_run(
    settings: Settings, fake_github: FakeGitHub
) -> None:
    payload = command(fake_github, "full")
    fake_github.repos["octo/demo"].trees[HEAD]["zz_last.py"] = b"print('not listed')\n"
    fake_github.tree_limit = 1  # GitHub lists one entry and says "truncated"
    await run_job(settings, "run_command", payload)
    run = the_check_run(fake_github)
    assert (run["head_sha"], run["status"]) == (HEAD, "completed")
    assert "GitHub listed only part of the tree" in run["output"]["summary"]


@pytest.fixture
def slow_llm() -> Iterator[str]:
    """A model that takes 10 s to answer anything."""
    llm = FakeOpenAI(OpenAIExpect(path="/v1/chat/completions", key=LLM_KEY, model=LLM_MODEL),
                     findings=[], slow_s=10.0)
    llm.script.set(["slow"] * 50)
    with serve_in_thread(llm.app) as base:
        yield f"{base}/v1"


async def test_a_scan_past_its_time_limit_concludes_its_check_run_as_timed_out(
    make_settings: Callable[..., Settings], github_env: dict[str, str], slow_llm: str,
    fake_github: FakeGitHub,
) -> None:
    """JOB_TIMEOUT_S=8: arq kills the job at 8 s; the scan must stop before (at the
    5 s floor) and say so on its check run, not leave it "in progress"."""
    settings = make_settings(**github_env, JOB_TIMEOUT_S="8", LLM_PROVIDER="openai_compatible",
                             LLM_BASE_URL=slow_llm, LLM_MODEL=LLM_MODEL, LLM_API_KEY=LLM_KEY,
                             LLM_TIMEOUT_S="60", LLM_CONTEXT_WINDOW="32768",
                             LLM_PRICE_INPUT="1", LLM_PRICE_OUTPUT="1")
    await asyncio.to_thread(upgrade, settings.database_url)
    payload = push(fake_github)
    await run_job(settings, "scan_push", payload)
    run = the_check_run(fake_github)
    assert (run["status"], run["conclusion"]) == ("completed", "timed_out")
    assert run["output"]["title"].startswith("Scan stopped: the scan took longer than")


async def job_result(settings: Settings, job_id: str) -> Any:
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        info = await Job(job_id, pool).result_info()
    finally:
        await pool.aclose()
    assert info is not None
    return info.result


async def test_a_scan_started_after_its_task_was_cancelled_ends_cancelled_publishing_nothing(
    settings: Settings, fake_github: FakeGitHub
) -> None:
    """The API scan's task is cancelled (its row ended as the API ends it) and the job then
    starts all the same (the worker had taken it before it could see the abort)."""
    push(fake_github)  # the tree at AFTER holds a finding
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        installation = await audits.ensure_installation(
            sessions, forge="github", external_id=INSTALLATION, account_login="octo")
        project_id = await audits.ensure_project(
            sessions, kind="github", external_id=4321, full_name="octo/demo",
            installation_id=installation)
        task_id = await audits.create_task(sessions, project_id=project_id, kind="repository",
                                           trigger="api", head_ref=AFTER)
        await end_task(sessions, task_id, endings.cancelled("Scan", "cancelled through the API"))

        await run_job(settings, "scan_repository",
                      {"task_id": task_id, "project_id": project_id, "ref": AFTER})

        task = await audits.get_task(sessions, task_id)
        async with sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(FindingRecord))
    finally:
        await engine.dispose()
    assert await job_result(settings, "scan_repository:test") == "cancelled"
    assert task is not None
    assert (task.status, task.error) == ("cancelled", "cancelled through the API")
    assert task.started_at is None and task.check_run_id is None
    assert fake_github.check_runs == {}  # no check run opened, none concluded
    assert stored == 0
