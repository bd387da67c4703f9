"""The one retry policy, through the functions the worker registers (``worker.FUNCTIONS``):
"try later" becomes arq's Retry with the forge's wait for every job, a bounded number of
times, then an honest failure on the check run."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from arq import Retry

from bot.forges.base import CheckUpdate
from bot.jobs import review, scans
from bot.jobs.alerts import code_scanning_alert
from bot.jobs.commands import run_command
from bot.jobs.contracts import RunCommand
from bot.jobs.deps import JobDeps, task_for_job
from bot.jobs.installations import sync_installation
from bot.jobs.lifecycle import conclude_check
from bot.jobs.retry import MAX_TRIES
from bot.jobs.threads import reply_in_thread
from bot.jobs.worker import FUNCTIONS, worker_settings
from bot.store import audits
from tests.fakes.fake_github import FakeGitHub, Pull, PullFile
from tests.jobs.conftest import ctx_of
from tests.jobs.test_review_job import HEAD, REPO, payload
from tests.jobs.test_scans import prepare as prepare_push
from tests.jobs.test_scans import push_payload

CLEAN = "def add(a, b):\n    return a + b\n"
CLEAN_PATCH = "@@ -0,0 +1,2 @@\n" + "\n".join("+" + line for line in CLEAN.splitlines())
HOUR = 3600


def registered(name: str) -> Callable[..., Awaitable[Any]]:
    """The function as the worker runs it."""
    return next(f for f in FUNCTIONS if f.__name__ == name)


def ctx(deps: JobDeps, job_id: str, job_try: int = 1) -> dict[str, Any]:
    return {**ctx_of(deps, job_id), "job_try": job_try}


def limit_writes(fake: FakeGitHub, count: int) -> None:
    """GitHub's secondary limit on the next ``count`` content-creating requests, with a
    Retry-After too long to wait in the worker."""
    fake.secondary_limits = count
    fake.secondary_retry_after = HOUR


def test_every_job_runs_under_the_policy() -> None:
    raw = {review.review_pull_request, scans.scan_push, scans.scan_repository,
           scans.scan_archive, run_command, sync_installation, reply_in_thread,
           code_scanning_alert, conclude_check}
    assert {inspect.unwrap(f) for f in FUNCTIONS} == raw
    assert {f.__name__ for f in FUNCTIONS} == {f.__name__ for f in raw}  # arq's job names


def test_the_policy_gives_up_before_arq_does(make_settings: Callable[..., Any]) -> None:
    """arq fails a job past max_tries without calling it: the last try must be ours."""
    assert worker_settings(make_settings())["max_tries"] == MAX_TRIES


async def test_a_rate_limited_push_scan_is_retried_not_failed(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare_push(fake_github)
    limit_writes(fake_github, 1)  # the check run's creation
    with pytest.raises(Retry) as raised:
        await registered("scan_push")(ctx(deps, "scan_push:limited"), push_payload())
    assert raised.value.defer_score == HOUR * 1000
    task = await audits.find_task_by_job(deps.sessions, "scan_push:limited")
    assert task is not None and task.status == "running"  # not failed for good
    # arq runs it again once the wait is over: one check run, concluded.
    status = await registered("scan_push")(ctx(deps, "scan_push:limited", 2), push_payload())
    assert status == "succeeded"
    assert [r["conclusion"] for r in fake_github.check_runs.values()] == ["failure"]


async def test_a_rate_limited_audit_command_is_retried(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    repo = fake_github.repos["octo/demo"]
    repo.pulls[5] = Pull(5, "d" * 40, HEAD, [PullFile("calc.py", "added", CLEAN_PATCH, 2, 0)])
    fake_github.rate_remaining = 0  # the primary limit: reset in an hour
    command = RunCommand(repository=REPO, number=5, command="review", author="alice",
                         comment_id=1, delivery_id="d-cmd").model_dump(mode="json")
    with pytest.raises(Retry) as raised:
        await registered("run_command")(ctx(deps, "run_command:limited"), command)
    assert raised.value.defer_score is not None
    assert HOUR * 1000 - 60_000 <= raised.value.defer_score <= HOUR * 1000


async def prepare_started_review(deps: JobDeps, fake: FakeGitHub, job_id: str) -> int:
    """A review whose earlier try opened its check run; returns the run's id."""
    repo = fake.repos["octo/demo"]
    repo.pulls[5] = Pull(5, "d" * 40, HEAD, [PullFile("calc.py", "added", CLEAN_PATCH, 2, 0)])
    repo.trees[HEAD] = {"calc.py": CLEAN.encode()}
    repo.trees["main"] = {}
    forge = await deps.forges(REPO)
    check_id = await forge.create_check(HEAD, CheckUpdate(status="in_progress", title="x"))
    await forge.close()
    _, task_id, _ = await task_for_job(deps, REPO, job_id, kind="review", pr_number=5,
                                       head_sha=HEAD)
    await audits.update_task(deps.sessions, task_id, check_run_id=check_id)
    return int(check_id)


async def test_retries_keep_one_check_run_and_the_last_try_fails_honestly(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    check = await prepare_started_review(deps, fake_github, "r:limited")
    for job_try in range(1, MAX_TRIES):
        limit_writes(fake_github, 1)  # the summary comment
        with pytest.raises(Retry):
            await registered("review_pull_request")(ctx(deps, "r:limited", job_try), payload())
        assert fake_github.check_runs[check]["status"] == "in_progress"
    limit_writes(fake_github, 1)
    result = await registered("review_pull_request")(ctx(deps, "r:limited", MAX_TRIES), payload())
    assert result == "failed"
    assert list(fake_github.check_runs) == [check]  # opened once, by the first try
    run = fake_github.check_runs[check]
    assert (run["status"], run["conclusion"]) == ("completed", "neutral")
    assert run["output"]["title"].startswith("Audit failed: GitHub rate limit")
    assert f"gave up after {MAX_TRIES} tries" in run["output"]["summary"]
    task = await audits.find_task_by_job(deps.sessions, "r:limited")
    assert task is not None and task.status == "failed" and "rate limit" in task.error


async def test_a_refusal_ends_the_task_at_once(deps: JobDeps, fake_github: FakeGitHub) -> None:
    check = await prepare_started_review(deps, fake_github, "r:refused")
    fake_github.inject("POST", r"/issues/5/comments$", 422)
    result = await registered("review_pull_request")(ctx(deps, "r:refused"), payload())
    assert result == "failed"
    run = fake_github.check_runs[check]
    assert run["conclusion"] == "neutral" and "GitHub answered 422" in run["output"]["title"]
    task = await audits.find_task_by_job(deps.sessions, "r:refused")
    assert task is not None and task.status == "failed"
