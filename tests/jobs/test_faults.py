"""Reviews under GitHub's faults (issue 17): a 502 or a secondary limit anywhere in a job,
pushes that land in any order, a check update that fails. The pull request on the forge
decides which head is current; every check run auditbot opens reaches a conclusion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from arq import Retry
from arq.constants import result_key_prefix
from sqlalchemy import delete, update

from bot.forges.base import CheckUpdate
from bot.jobs.deps import JobDeps, task_for_job
from bot.jobs.lifecycle import abort_job
from bot.jobs.reconcile import reconcile
from bot.store import audits
from bot.store.models import AuditTask
from tests.fakes.fake_github import FakeGitHub
from tests.jobs.conftest import ctx_of
from tests.jobs.test_retry import ctx, registered
from tests.jobs.test_review_job import HEAD, REPO, payload, prepare

OLDER = "9" * 40
NEWER = "a" * 40


async def running_review(
    deps: JobDeps, fake: FakeGitHub, job_id: str, head: str
) -> tuple[str, int]:
    """A review of ``head`` another worker is running: its task and its open check run."""
    forge = await deps.forges(REPO)
    check = await forge.create_check(head, CheckUpdate(status="in_progress", title="Audit"))
    await forge.close()
    _, task_id, _ = await task_for_job(deps, REPO, job_id, kind="review", pr_number=5,
                                       head_sha=head)
    await audits.update_task(deps.sessions, task_id, status="running", check_run_id=check)
    return task_id, int(check)


async def test_a_job_for_an_older_head_never_cancels_the_newer_review(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare(fake_github)  # the pull request's head is HEAD
    newer_task, newer_check = await running_review(deps, fake_github, "r:newer", HEAD)
    status = await registered("review_pull_request")(ctx(deps, "r:older"), payload(head_sha=OLDER))
    assert status == "cancelled"
    newer = await audits.get_task(deps.sessions, newer_task)
    assert newer is not None and newer.status == "running"
    assert fake_github.check_runs[newer_check]["status"] == "in_progress"
    older_run = next(r for r in fake_github.check_runs.values() if r["head_sha"] == OLDER)
    assert older_run["conclusion"] == "cancelled"
    assert HEAD[:12] in older_run["output"]["title"]  # names the newer head
    assert fake_github.submitted_reviews("octo/demo", 5) == []


async def test_a_push_during_the_analysis_supersedes_the_review_before_it_publishes(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare(fake_github)
    # Read at the start and by the change's fetch; the push lands before the third read.
    fake_github.repos["octo/demo"].pulls[5].push_after = (2, NEWER)
    status = await registered("review_pull_request")(ctx(deps, "r:pushed"), payload())
    assert status == "cancelled"
    run = next(iter(fake_github.check_runs.values()))
    assert (run["status"], run["conclusion"]) == ("completed", "cancelled")
    assert NEWER[:12] in run["output"]["title"]
    assert fake_github.submitted_reviews("octo/demo", 5) == []
    assert not any(c for c in fake_github.comments.values())  # no summary either
    task = await audits.find_task_by_job(deps.sessions, "r:pushed")
    assert task is not None and (task.status, task.superseded_by) == ("cancelled", NEWER)


async def test_a_502_creating_the_check_run_is_retried_and_the_review_completes(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare(fake_github)
    fake_github.inject("POST", r"/check-runs$", 502)
    review = registered("review_pull_request")
    with pytest.raises(Retry):
        await review(ctx(deps, "r:fault"), payload())
    task = await audits.find_task_by_job(deps.sessions, "r:fault")
    assert task is not None and task.status == "running"
    assert await review(ctx(deps, "r:fault", 2), payload()) == "succeeded"
    assert [r["conclusion"] for r in fake_github.check_runs.values()] == ["failure"]
    assert len(fake_github.submitted_reviews("octo/demo", 5)) == 1


async def test_a_short_secondary_limit_is_waited_out_in_the_job(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare(fake_github)
    fake_github.inject("POST", r"/check-runs$", 403, retry_after=1)
    assert await registered("review_pull_request")(ctx(deps, "r:limit"), payload()) == "succeeded"
    assert fake_github.secondary_refusals == 1
    assert [r["conclusion"] for r in fake_github.check_runs.values()] == ["failure"]


async def test_aborting_a_job_whose_result_cannot_be_read_does_not_fail_the_caller(
    deps: JobDeps,
) -> None:
    await deps.redis.set(result_key_prefix + "job:unreadable", b"\x80not a pickle")
    await abort_job(deps.redis, "job:unreadable")  # arq: DeserializationError, ignored


async def test_a_newer_push_reviews_even_when_the_older_job_left_an_unreadable_result(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare(fake_github)
    older_task, older_check = await running_review(deps, fake_github, "r:old-job", OLDER)
    await deps.redis.set(result_key_prefix + "r:old-job", b"\x80not a pickle")
    assert await registered("review_pull_request")(ctx(deps, "r:new"), payload()) == "succeeded"
    older = await audits.get_task(deps.sessions, older_task)
    assert older is not None and older.status == "cancelled"
    assert fake_github.check_runs[older_check]["conclusion"] == "cancelled"


async def test_a_superseded_check_whose_update_fails_is_concluded_by_the_reconciler(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare(fake_github)
    older_task, older_check = await running_review(deps, fake_github, "r:old", OLDER)
    # One try and githubkit's three retries of an idempotent PATCH.
    fake_github.inject("PATCH", rf"/check-runs/{older_check}$", 502, times=4)
    # The newer review goes on: the older check's conclusion is owed, not lost.
    assert await registered("review_pull_request")(ctx(deps, "r:new2"), payload()) == "succeeded"
    assert fake_github.check_runs[older_check]["status"] == "in_progress"
    older = await audits.get_task(deps.sessions, older_task)
    assert older is not None and older.status == "cancelled"
    assert older.check_concluded_at is None
    async with deps.sessions() as session, session.begin():
        await session.execute(update(AuditTask).where(AuditTask.id == older_task)
                              .values(finished_at=audits.now() - timedelta(minutes=5)))
    assert await reconcile(ctx_of(deps, "cron")) == 1
    run = fake_github.check_runs[older_check]
    assert run["conclusion"] == "cancelled" and HEAD[:12] in run["output"]["title"]
    older = await audits.get_task(deps.sessions, older_task)
    assert older is not None and older.check_concluded_at is not None
    assert await reconcile(ctx_of(deps, "cron")) == 0


async def test_a_retry_after_the_task_ended_concludes_its_check(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """The last write of a review is its check's conclusion; a 502 there ends the task
    but leaves the check open: the retry arq makes concludes it."""
    prepare(fake_github)
    review = registered("review_pull_request")
    # The conclusion: one try and githubkit's three retries of an idempotent PATCH.
    fake_github.inject("PATCH", r"/check-runs/\d+$", 502, times=4)
    with pytest.raises(Retry):
        await review(ctx(deps, "r:last-write"), payload())
    task = await audits.find_task_by_job(deps.sessions, "r:last-write")
    assert task is not None and task.status == "succeeded" and task.check_concluded_at is None
    run = next(iter(fake_github.check_runs.values()))
    assert run["status"] == "in_progress"
    assert await review(ctx(deps, "r:last-write", 2), payload()) == "succeeded"
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert len(fake_github.submitted_reviews("octo/demo", 5)) == 1


async def test_a_check_run_created_while_the_answer_was_lost_is_found_not_duplicated(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """GitHub applies the POST, the 502 loses its answer: the retry finds that run by its
    external_id (the task id) instead of leaving it "in progress" beside a second one."""
    prepare(fake_github)
    fake_github.inject("POST", r"/check-runs$", 502, apply_first=True)
    review = registered("review_pull_request")
    with pytest.raises(Retry):
        await review(ctx(deps, "r:lost-answer"), payload())
    assert len(fake_github.check_runs) == 1
    assert await review(ctx(deps, "r:lost-answer", 2), payload()) == "succeeded"
    assert [r["conclusion"] for r in fake_github.check_runs.values()] == ["failure"]


async def test_a_finding_commented_by_a_job_that_died_before_recording_it_is_not_commented_again(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """The review was posted, then the job was killed or timed out before it stored the
    findings: the next push's review must not comment the same finding a second time."""
    from bot.store.models import FindingRecord

    prepare(fake_github)
    review = registered("review_pull_request")
    assert await review(ctx(deps, "r:first"), payload()) == "succeeded"
    async with deps.sessions() as session, session.begin():
        await session.execute(delete(FindingRecord))  # what the dead job never stored
    repo = fake_github.repos["octo/demo"]
    repo.pulls[5].head_sha = NEWER  # a push that leaves the flawed file as it was
    repo.trees[NEWER] = dict(repo.trees[HEAD])
    assert await review(ctx(deps, "r:second"), payload(head_sha=NEWER)) == "succeeded"
    assert len(fake_github.review_comments) == 1
