"""The reconciler queues a review for an open pull (merge) request whose newest head no task
reviewed (its delivery was lost for good), once, under the webhook's own job id: GitHub and
GitLab."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus

from bot.config import Settings
from bot.jobs.catch_up import queue_missed_reviews
from bot.jobs.contracts import (
    REVIEW_PULL_REQUEST,
    Repository,
    ReviewPullRequest,
    automatic_job_id,
)
from bot.jobs.deps import JobDeps, task_for_job
from bot.jobs.reconcile import reconcile
from tests.fakes.fake_github import FakeGitHub, Pull, PullFile
from tests.fakes.fake_gitlab import MR, FakeGitLab
from tests.jobs.conftest import ctx_of, job_deps
from tests.jobs.test_review_job import HEAD, PATCH, REPO
from tests.support.servers import serve_in_thread

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


async def test_an_open_merge_request_whose_head_was_never_reviewed_gets_a_review_queued(
    make_settings: Callable[..., Settings], redis_url: str, tmp_path: Path
) -> None:
    """The same catch-up for GitLab (no GitHub configured): the open merge requests of an
    active project are listed through the forge layer, and a head no task reviewed gets the
    job the merge request hook would have queued (same id, draft variant included)."""
    fake = FakeGitLab()
    fake.add_project(1, "group/app")
    project = fake.projects[1]
    project.mrs[3] = MR(3, 1, 1, "feature", [("d" * 40, "d" * 40, MISSED)], [])
    project.mrs[4] = MR(4, 1, 1, "reviewed", [("d" * 40, "d" * 40, HEAD)], [])
    project.mrs[5] = MR(5, 1, 1, "merged", [("d" * 40, "d" * 40, "5" * 40)], [],
                        state="merged")
    project.mrs[6] = MR(6, 1, 1, "wip", [("d" * 40, "d" * 40, "6" * 40)], [], draft=True,
                        author="bob")
    repo = Repository(forge="gitlab", id=1, full_name="group/app", default_branch="main")
    with serve_in_thread(fake.app) as url:
        settings = make_settings(GITLAB_URL=url, GITLAB_TOKEN=fake.token,
                                 GITLAB_WEBHOOK_SECRET="s", REDIS_URL=redis_url,
                                 DATA_DIR=str(tmp_path / "data"))
        assert settings.gitlab_enabled and not settings.github_enabled
        async with job_deps(settings, redis_url) as deps:
            # !3 was reviewed at an older head, !4 at its current one.
            await task_for_job(deps, repo, "r:old", kind="review", pr_number=3,
                               head_sha="e" * 40)
            await task_for_job(deps, repo, "r:four", kind="review", pr_number=4, head_sha=HEAD)

            await reconcile(ctx_of(deps, "cron"))

            queue = ArqRedis(connection_pool=deps.redis.connection_pool)
            missed = automatic_job_id(REVIEW_PULL_REQUEST, "gitlab", 1, 3, MISSED)
            draft = automatic_job_id(REVIEW_PULL_REQUEST, "gitlab", 1, 6, "6" * 40,
                                     variant="draft")
            assert sorted(j.job_id for j in await queue.queued_jobs()) == sorted([missed, draft])
            info = await Job(missed, queue).info()
            assert info is not None and info.function == REVIEW_PULL_REQUEST
            job = ReviewPullRequest.model_validate(info.args[0])
            assert (job.repository.forge, job.number, job.head_sha, job.head_ref,
                    job.base_ref, job.base_sha, job.draft, job.author) == (
                "gitlab", 3, MISSED, "feature", "main", None, False, "alice")
            assert job.trigger == "reconciler.catch_up"
            wip = await Job(draft, queue).info()
            assert wip is not None and wip.args[0]["draft"] is True
            # Ten minutes before the next sweep.
            assert await queue_missed_reviews(deps) == 0
    assert ("GET", "/api/v4/projects/1/merge_requests") in fake.requests
