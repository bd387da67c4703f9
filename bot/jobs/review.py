"""`review_pull_request`: one audit of a pull request (merge request) at one head SHA, from
the check run's start to its conclusion, exactly once as people see it.

A retried job (worker killed, transient error) finds its task row and check run again and
the forge adapter refuses to post a second review for the same head SHA. A newer push
supersedes an older run: the older check is concluded as cancelled and can no longer
publish, because publishing for one PR is serialised under a Redis lock and re-checks the
task's state inside it. Opening, concluding and ending go through ``lifecycle``; errors
go to the retry policy (``retry.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from bot.analysis.pipeline import ReviewOutcome, ReviewPipeline, ReviewRequest, StaleHead
from bot.analysis.repo_config import RepoConfig, load_repo_config
from bot.errors import AuditbotError, RetryLater
from bot.forges.base import ChangeTarget
from bot.forges.locks import leased_lock
from bot.forges.pull_requests import PullRequestForge
from bot.jobs import endings
from bot.jobs.budgets import apply_budgets, release_budgets
from bot.jobs.code_scanning import follow_analysis
from bot.jobs.contracts import ReviewPullRequest
from bot.jobs.conversation.feedback import apply_feedback
from bot.jobs.deps import JobDeps, deps_of, task_for_delivery
from bot.jobs.lifecycle import REVIEW_WORDS, Audit, cancel_tasks, conclude_open_check
from bot.jobs.metrics import count_findings
from bot.jobs.publish import publish_outcome
from bot.logs import bind
from bot.store import audits
from bot.store.learnings import review_notes
from bot.store.models import AuditTask

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 300
# GitLab may list a just-pushed commit as the merge request's version a few seconds late.
STALE_TRIES = 3
STALE_DEFER_S = 5


def pr_lock_key(job: ReviewPullRequest) -> str:
    repo = job.repository
    return f"auditbot:lock:pr:{repo.forge}:{repo.id}:{job.number}"


async def review_pull_request(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = ReviewPullRequest.model_validate(payload)
    deps = deps_of(ctx)
    job_id = str(ctx.get("job_id") or f"review_pull_request:{job.delivery_id}")
    return await ReviewRun(deps, job, job_id, int(ctx.get("job_try") or 1)).run()


class ReviewRun:
    def __init__(self, deps: JobDeps, job: ReviewPullRequest, job_id: str, job_try: int) -> None:
        self.deps = deps
        self.job = job
        self.job_id = job_id
        self.job_try = job_try
        self.target = ChangeTarget(number=job.number)
        self.project_id = 0

    async def run(self) -> str:
        repo = self.job.repository
        job = self.job
        self.project_id, task_id, status = await task_for_delivery(
            self.deps, job, self.job_id, kind="review",
            trigger="command" if job.requested_by else "webhook", pr_number=job.number,
            base_ref=job.base_ref, head_ref=job.head_ref, head_sha=job.head_sha,
        )
        if status in audits.FINAL_STATUSES:
            log.info("task %s already %s; nothing to do", task_id, status)
            await self._conclude_open_check(task_id)
            return status
        with bind(task_id=task_id, delivery_id=self.job.delivery_id):
            forge = await self.deps.forges(repo)
            audit = Audit(self.deps, task_id, self.project_id, forge=forge,
                          head_sha=self.job.head_sha, target=self.target, words=REVIEW_WORDS)
            try:
                return await self._run(forge, audit)
            finally:
                release_budgets(self.deps, task_id)
                await forge.close()

    async def _conclude_open_check(self, task_id: str) -> None:
        """A try after the task ended: the forge may not have taken its conclusion."""
        task = await audits.get_task(self.deps.sessions, task_id)
        if task is not None and task.check_run_id and task.check_concluded_at is None:
            forge = await self.deps.forges(self.job.repository)
            try:
                await conclude_open_check(self.deps, task, forge=forge)
            finally:
                await forge.close()

    async def _run(self, forge: PullRequestForge, audit: Audit) -> str:
        settings = self.deps.settings
        ended = await audit.begin()
        if ended is not None:  # cancelled, or ended by another run of this job
            log.info("task %s already %s: not reviewing", audit.task_id, ended)
            return ended
        # Read before the forge's head: a review of a later push has its task by the time
        # the pull request names that push, so it cannot be cancelled by mistake below.
        others = await self._other_heads(audit.task_id)
        current = await self._current_head(forge)
        if current != self.job.head_sha:
            return await audit.end(endings.superseded(current))
        await cancel_tasks(self.deps, forge, others, endings.superseded(self.job.head_sha))
        policy = await audits.project_policy(
            self.deps.sessions, self.project_id, settings.allowed_models
        )
        config, errors = await self._config(forge, policy.allowed_models)
        skip = self._skip_reason(config, policy)
        if skip is not None:
            return await audit.end(endings.skipped("Audit", skip))
        await self._feedback(forge)
        only_paths = await self._incremental_paths(forge, audit.task_id)
        installation_id = await apply_budgets(self.deps, self.project_id, audit.task_id)
        pipeline = ReviewPipeline(
            forge, llm=audit.reviewer(installation_id), progress=audit.progress(on_check=True),
            analyzer_slots=self.deps.analyzer_slots,
        )
        request = ReviewRequest(
            target=self.target,
            config=config,
            config_errors=tuple(errors),
            false_positives=await audits.silenced_fingerprints(
                self.deps.sessions, self.project_id
            ),
            only_paths=only_paths,
            allowed_models=policy.allowed_models,
            expected_head=self.job.head_sha,
            learnings=await review_notes(self.deps.sessions, self.project_id),
        )
        try:
            outcome = await asyncio.wait_for(pipeline.run(request), timeout=audit.time_limit_s())
        except StaleHead as exc:
            if self.job.repository.forge == "gitlab" and self.job_try < STALE_TRIES:
                raise RetryLater(str(exc), retry_after=STALE_DEFER_S) from exc
            return await audit.end(endings.superseded(exc.actual))
        except TimeoutError:
            return await audit.end(endings.timed_out("Audit", audit.time_limit_s()))
        await count_findings(self.deps.redis, task_id=audit.task_id,
                             head_sha=self.job.head_sha, findings=outcome.open_findings)
        return await self._publish(forge, audit, outcome)

    async def _config(
        self, forge: PullRequestForge, allowed_models: Sequence[str]
    ) -> tuple[RepoConfig, list[str]]:
        text = await forge.read_repo_config(await self._config_ref(forge))
        return load_repo_config(text, allowed_models=allowed_models)

    async def _config_ref(self, forge: PullRequestForge) -> str:
        """The PR's base commit, never its head: the PR author must not choose the rules."""
        if self.job.base_sha:
            return self.job.base_sha  # GitHub's payload names it
        # GitLab's merge request hook does not: the latest MR version's base does.
        if self.job.number is not None:
            base = await forge.version_base(self.job.number)
            if base is not None:
                return base
        return self.job.base_ref or self.job.repository.default_branch or "HEAD"

    def _skip_reason(self, config: RepoConfig, policy: audits.ProjectPolicy) -> str | None:
        if not policy.reviews_enabled:
            return "reviews are turned off in this project's auditbot settings"
        if not config.enabled:
            return "auditbot is disabled in .auditbot.yml"
        if self.job.draft and not config.review.drafts and not self.job.requested_by:
            return "draft pull request (set review.drafts to audit drafts)"
        author = (self.job.author or "").lower()
        if author and author in {a.lower() for a in config.review.ignore_authors}:
            return f"author {self.job.author} is in review.ignore_authors"
        return None

    async def _feedback(self, forge: PullRequestForge) -> None:
        """A "false positive" reply or a 👎 on one of our comments, by someone with write
        access, silences that finding from this run on (bot.jobs.conversation.feedback)."""
        await apply_feedback(self.deps, forge, self.job.repository, self.project_id,
                             self.target)

    async def _incremental_paths(
        self, forge: PullRequestForge, task_id: str
    ) -> frozenset[str] | None:
        """Files changed since the last audited head of this PR; None means a full review."""
        last_head = await audits.last_audited_head(
            self.deps.sessions, self.project_id, self.job.number, other_than_task=task_id
        )
        if not last_head or last_head == self.job.head_sha:
            return None
        try:
            change = await forge.compare(last_head, self.job.head_sha)
        except AuditbotError as exc:
            log.info("incremental base %s is gone (%s): full review", last_head[:12], exc)
            return None
        return frozenset(f.path for f in change.files)

    async def _current_head(self, forge: PullRequestForge) -> str:
        if self.job.number is None:  # a check run re-run naming no pull request
            return self.job.head_sha
        return await forge.pull_head(self.job.number)

    async def _other_heads(self, task_id: str) -> list[AuditTask]:
        """Queued or running reviews of this pull request at other heads."""
        return await audits.active_tasks_of_pr(
            self.deps.sessions,
            self.project_id,
            self.job.number,
            kind="review",
            head_other_than=self.job.head_sha,
            other_than_task=task_id,
        )

    async def _publish(self, forge: PullRequestForge, audit: Audit, outcome: ReviewOutcome) -> str:
        async with leased_lock(self.deps.redis, pr_lock_key(self.job), wait_s=LOCK_TIMEOUT_S):
            ended = await audit.ended_elsewhere()
            if ended is not None:  # cancelled, or published by another run of this job
                log.info("task %s already %s: publishing nothing", audit.task_id, ended)
                return ended
            # Once more before anything is posted: a push during the analysis wins.
            current = await self._current_head(forge)
            if current != self.job.head_sha:
                return await audit.end(endings.superseded(current))
            ending = await publish_outcome(
                self.deps,
                forge,
                target=self.target,
                head_sha=self.job.head_sha,
                outcome=outcome,
                task_id=audit.task_id,
                project_id=self.project_id,
                pr_number=self.job.number,
                report_url=audit.link,
                repository=self.job.repository,
            )
            result = await audit.end(ending)
        # After the check concluded: following GitHub's processing delays nobody.
        await follow_analysis(self.deps, forge.code_scanning, audit.task_id)
        return result
