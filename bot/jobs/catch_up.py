"""Reviews of pull (merge) requests whose event never reached a worker.

GitHub never retries a failed delivery; the reconciler asks it to redeliver a few times,
but a delivery lost for good (the web process down longer than those tries, a queued job
lost with a Redis that kept no AOF) would leave a pull request's newest head without a
review and without a check run. GitLab retries a failed hook a few times, then disables
it; a merge request hook lost meanwhile leaves the same gap. Every ``EVERY_S`` one worker
lists, for each forge configured, the open pull (merge) requests of the projects active in
the last ``ACTIVE_DAYS`` and queues a review for each head no task has reviewed, under the
job id the webhook would have used (arq refuses a second copy of a job it still knows).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from arq.connections import ArqRedis

from bot.errors import AuditbotError
from bot.forges.base import OpenPull
from bot.jobs.contracts import REVIEW_PULL_REQUEST, Repository, ReviewPullRequest, automatic_job_id
from bot.jobs.deps import JobDeps, repository_of
from bot.store import audits

log = logging.getLogger(__name__)

EVERY_S = 600
ACTIVE_DAYS = 7
LAST_RUN_KEY = "auditbot:reconcile:catch-up"


async def queue_missed_reviews(deps: JobDeps) -> int:
    """Queue reviews of open pull (merge) requests' heads nobody reviewed, on every forge
    configured; returns how many."""
    forges = [name for name, enabled in (("github", deps.settings.github_enabled),
                                         ("gitlab", deps.settings.gitlab_enabled)) if enabled]
    queued = 0
    for forge in forges:
        queued += await _queue_missed_reviews_of(deps, forge)
    return queued


async def _queue_missed_reviews_of(deps: JobDeps, forge: str) -> int:
    key = LAST_RUN_KEY if forge == "github" else f"{LAST_RUN_KEY}:{forge}"
    if not await deps.redis.set(key, "1", nx=True, ex=EVERY_S):
        return 0  # another worker's reconciler did it within EVERY_S
    since = audits.now() - timedelta(days=ACTIVE_DAYS)
    queue = ArqRedis(connection_pool=deps.redis.connection_pool)
    queued = 0
    for project_id in await audits.recently_active_projects(deps.sessions, forge, since):
        repo = await repository_of(deps, project_id)
        if repo is None:
            continue
        try:
            pulls = await _open_pulls(deps, repo)
        except AuditbotError as exc:
            log.warning("could not list the open pull (merge) requests of %s: %s",
                        repo.full_name, exc)
            continue
        for pull in pulls:
            if await audits.has_review_of_head(deps.sessions, project_id, pull.number,
                                               pull.head_sha):
                continue
            if await _enqueue(queue, repo, pull):
                queued += 1
                log.warning("queued a review of %s%s%d at %s: its event never reached a "
                            "worker", repo.full_name, "!" if forge == "gitlab" else "#",
                            pull.number, pull.head_sha[:12])
    return queued


async def _open_pulls(deps: JobDeps, repo: Repository) -> list[OpenPull]:
    forge = await deps.forges(repo)
    try:
        return await forge.open_pulls()
    finally:
        await forge.close()


async def _enqueue(queue: ArqRedis, repo: Repository, pull: OpenPull) -> bool:
    job_id = automatic_job_id(REVIEW_PULL_REQUEST, repo.forge, repo.id, pull.number,
                              pull.head_sha, variant="draft" if pull.draft else None)
    job = ReviewPullRequest(
        repository=repo, number=pull.number, head_sha=pull.head_sha, head_ref=pull.head_ref,
        base_ref=pull.base_ref, base_sha=pull.base_sha, author=pull.author, draft=pull.draft,
        trigger="reconciler.catch_up", delivery_id=f"catch-up:{pull.head_sha[:12]}",
    )
    queued = await queue.enqueue_job(REVIEW_PULL_REQUEST, job.model_dump(mode="json"),
                                     _job_id=job_id)
    return queued is not None
