"""The reconciler queues a review for an open pull request whose newest head no task
reviewed (its delivery was lost for good), once, under the webhook's own job id."""

from __future__ import annotations

from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus

from bot.jobs.catch_up import queue_missed_reviews
from bot.jobs.contracts import REVIEW_PULL_REQUEST, automatic_job_id
from bot.jobs.deps import JobDeps, task_for_job
from bot.jobs.reconcile import reconcile
from tests.fakes.fake_github import FakeGitHub, Pull, PullFile
from tests.jobs.conftest import ctx_of
from tests.jobs.test_review_job import HEAD, PATCH, REPO

MISSED = "b" * 40


async def test_an_open_pull_request_whose_head_was_never_reviewed_gets_a_review_queued(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    repo = fake_github.repos["octo/demo"]
    repo.pulls[5] = Pull(5, "d" * 40, MISSED, [PullFile("tool.py", "added", PATCH, 5, 0)])
    repo.pulls[6] = Pull(6, "d" * 40, HEAD, [PullFile("tool.py", "added", PATCH, 5, 0)])
    repo.pulls[7] = Pull(7, "d" * 40, "7" * 40, [], state="closed")
    # #5 was reviewed at an older head, #6 at its current one; #7 is closed.
    await task_for_job(deps, REPO, "r:old", kind="review", pr_number=5, head_sha="e" * 40)
    await task_for_job(deps, REPO, "r:six", kind="review", pr_number=6, head_sha=HEAD)

    await reconcile(ctx_of(deps, "cron"))

    queue = ArqRedis(connection_pool=deps.redis.connection_pool)
    job_id = automatic_job_id(REVIEW_PULL_REQUEST, "github", REPO.id, 5, MISSED)
    job = Job(job_id, queue)
    assert await job.status() == JobStatus.queued
    info = await job.info()
    assert info is not None and info.function == REVIEW_PULL_REQUEST
    assert info.args[0]["head_sha"] == MISSED and info.args[0]["number"] == 5
    queued = await queue.queued_jobs()
    assert [j.job_id for j in queued] == [job_id]
    # The next minute's run lists nothing again (one sweep per ten minutes).
    assert await queue_missed_reviews(deps) == 0
