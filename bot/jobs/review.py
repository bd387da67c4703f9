"""`review_pull_request`: one audit of a pull request (merge request) at one head SHA, from
the check run's start to its conclusion, exactly once as people see it.

A retried job (worker killed, transient error) finds its task row and check run again and
the forge adapter refuses to post a second review for the same head SHA. A newer push
supersedes an older run: the older check is concluded as cancelled and can no longer
publish, because publishing for one PR is serialised under a Redis lock and re-checks the
task's state inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from arq import Retry
from arq.jobs import Job
from sqlalchemy import select

from bot.analysis.llm_review import LLMReviewer
from bot.analysis.pipeline import ReviewOutcome, ReviewPipeline, ReviewRequest, StaleHead
from bot.analysis.repo_config import RepoConfig, load_repo_config
from bot.errors import AuditbotError, RetryLater
from bot.forges.base import ChangeTarget, CheckUpdate, Forge
from bot.jobs.budgets import apply_budgets, release_budgets
from bot.jobs.contracts import ReviewPullRequest
from bot.jobs.deps import JobDeps, deps_of, task_for_job
from bot.jobs.progress import CheckProgress, Fanout, RedisProgress
from bot.jobs.publish import publish_outcome
from bot.jobs.results import outcome_fields
from bot.logs import bind
from bot.signing import report_url
from bot.store import audits
from bot.store.models import AuditTask
from bot.store.triage import TriageSource, dismiss_from_forge

log = logging.getLogger(__name__)

MAX_TRIES = 5
TIMEOUT_MARGIN_S = 15
LOCK_TIMEOUT_S = 300
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
        self.task_id = ""

    async def run(self) -> str:
        repo = self.job.repository
        sessions = self.deps.sessions
        self.project_id, self.task_id, status = await task_for_job(
            self.deps,
            repo,
            self.job_id,
            kind="review",
            trigger="command" if self.job.requested_by else "webhook",
            delivery_id=self.job.delivery_id,
            pr_number=self.job.number,
            base_ref=self.job.base_ref,
            head_ref=self.job.head_ref,
            head_sha=self.job.head_sha,
        )
        if status in audits.FINAL_STATUSES:
            log.info("task %s already %s; nothing to do", self.task_id, status)
            return status
        with bind(task_id=self.task_id, delivery_id=self.job.delivery_id):
            await audits.start_task(sessions, self.task_id)
            forge = await self.deps.forges(repo)
            try:
                return await self._run(forge)
            finally:
                release_budgets(self.deps, self.task_id)
                await forge.close()

    async def _run(self, forge: Forge) -> str:
        settings = self.deps.settings
        check_id = await self._check(forge)
        if await self._superseded():
            await self._conclude(forge, check_id, "cancelled", "Superseded by a newer push")
            return "cancelled"
        await self._supersede_older(forge)
        try:
            policy = await audits.project_policy(
                self.deps.sessions, self.project_id, settings.allowed_models
            )
            config, errors = await self._config(forge, policy.allowed_models)
            skip = self._skip_reason(config, policy)
            if skip is not None:
                await self._end(forge, check_id, "neutral", f"Audit skipped: {skip}",
                                status="succeeded", partial_reason=skip)
                return "skipped"
            await self._feedback(forge)
            only_paths = await self._incremental_paths(forge)
            installation_id = await apply_budgets(self.deps, self.project_id, self.task_id)
            outcome = await asyncio.wait_for(
                self._pipeline(forge, check_id, installation_id).run(
                    ReviewRequest(
                        target=self.target,
                        config=config,
                        config_errors=tuple(errors),
                        false_positives=await audits.silenced_fingerprints(
                            self.deps.sessions, self.project_id
                        ),
                        only_paths=only_paths,
                        allowed_models=policy.allowed_models,
                        expected_head=self.job.head_sha,
                    )
                ),
                timeout=max(5, settings.job_timeout_s - TIMEOUT_MARGIN_S),
            )
            return await self._publish(forge, check_id, outcome)
        except StaleHead as exc:
            # GitLab may not list a just-pushed commit as the MR's version for a few
            # seconds; on GitHub (or after that) a different head means a newer push.
            if self.job.repository.forge == "gitlab" and self.job_try < STALE_TRIES:
                raise Retry(defer=STALE_DEFER_S) from exc
            reason = f"superseded by {exc.actual[:12]}"
            await self._end(forge, check_id, "cancelled", reason.capitalize(),
                            status="cancelled", superseded_by=exc.actual, error=reason)
            return "cancelled"
        except TimeoutError:
            reason = f"the audit took longer than {settings.job_timeout_s - TIMEOUT_MARGIN_S} s"
            await self._end(forge, check_id, "timed_out", f"Audit stopped: {reason}",
                            status="failed", error=reason)
            return "failed"
        except RetryLater as exc:
            if self.job_try < MAX_TRIES:
                raise Retry(defer=exc.retry_after) from exc
            await self._fail(forge, check_id, exc)
            return "failed"
        except (AuditbotError, OSError) as exc:
            if self.job_try < MAX_TRIES and not isinstance(exc, AuditbotError):
                raise Retry(defer=2**self.job_try) from exc
            await self._fail(forge, check_id, exc)
            return "failed"

    def _pipeline(self, forge: Forge, check_id: str, installation_id: int | None) -> ReviewPipeline:
        reviewer = None
        if self.deps.llm is not None:
            reviewer = LLMReviewer(
                self.deps.llm,
                concurrency=self.deps.settings.llm_concurrency,
                task_id=self.task_id,
                project_id=self.project_id,
                installation_id=installation_id,
            )
        progress = Fanout(
            RedisProgress(self.deps.redis, self.task_id),
            CheckProgress(forge, check_id, report_url(self.deps.settings, self.task_id)),
        )
        return ReviewPipeline(forge, llm=reviewer, progress=progress)

    async def _check(self, forge: Forge) -> str:
        task = await audits.get_task(self.deps.sessions, self.task_id)
        if task is not None and task.check_run_id:
            return task.check_run_id
        check_id = await forge.create_check(
            self.job.head_sha,
            CheckUpdate(
                status="in_progress",
                title="Audit in progress",
                summary="auditbot is reviewing this change.",
                details_url=report_url(self.deps.settings, self.task_id),
            ),
            self.target,
        )
        await audits.update_task(self.deps.sessions, self.task_id, check_run_id=check_id)
        return check_id

    async def _config(
        self, forge: Forge, allowed_models: Sequence[str]
    ) -> tuple[RepoConfig, list[str]]:
        text = await forge.read_repo_config(await self._config_ref(forge))
        return load_repo_config(text, allowed_models=allowed_models)

    async def _config_ref(self, forge: Forge) -> str:
        """The PR's base commit, never its head: the PR author must not choose the rules."""
        if self.job.base_sha:
            return self.job.base_sha  # GitHub's payload names it
        # GitLab's merge request hook does not: the latest MR version's base does.
        version_refs = getattr(forge, "version_refs", None)
        if version_refs is not None and self.job.number is not None:
            return str((await version_refs(self.job.number)).base_sha)
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

    async def _feedback(self, forge: Forge) -> None:
        """A "false positive" reply or a 👎 on one of our comments silences that finding,
        from this run on."""
        read = getattr(forge, "feedback", None)
        if read is None:
            return
        try:
            marked = await read(self.target)
        except RetryLater:
            raise
        except AuditbotError as exc:
            log.warning("could not read feedback on our comments: %s", exc)
            return
        if marked:
            source = TriageSource(self.job.repository.forge)
            changed = await dismiss_from_forge(self.deps.sessions, self.project_id, marked, source)
            log.info("%d finding(s) marked false positive in the pull request", changed)

    async def _incremental_paths(self, forge: Forge) -> frozenset[str] | None:
        """Files changed since the last audited head of this PR; None means a full review."""
        async with self.deps.sessions() as session:
            query = (
                select(AuditTask.head_sha)
                .where(
                    AuditTask.project_id == self.project_id,
                    AuditTask.pr_number == self.job.number,
                    AuditTask.kind == "review",
                    AuditTask.status == "succeeded",
                    AuditTask.head_sha.is_not(None),
                    AuditTask.id != self.task_id,
                )
                .order_by(AuditTask.finished_at.desc())
                .limit(1)
            )
            last_head = (await session.scalars(query)).first()
        if not last_head or last_head == self.job.head_sha:
            return None
        try:
            change = await forge.compare(last_head, self.job.head_sha)
        except AuditbotError as exc:
            log.info("incremental base %s is gone (%s): full review", last_head[:12], exc)
            return None
        return frozenset(f.path for f in change.files)

    async def _superseded(self) -> bool:
        task = await audits.get_task(self.deps.sessions, self.task_id)
        return task is None or task.status == "cancelled"

    async def _supersede_older(self, forge: Forge) -> None:
        """Older queued or running reviews of this PR stop: their checks say why."""
        async with self.deps.sessions() as session:
            query = select(AuditTask).where(
                AuditTask.project_id == self.project_id,
                AuditTask.pr_number == self.job.number,
                AuditTask.kind == "review",
                AuditTask.status.in_(audits.ACTIVE_STATUSES),
                AuditTask.head_sha != self.job.head_sha,
                AuditTask.id != self.task_id,
            )
            older = list(await session.scalars(query))
        for task in older:
            reason = f"superseded by {self.job.head_sha[:12]}"
            await audits.finish_task(
                self.deps.sessions,
                task.id,
                status="cancelled",
                conclusion="cancelled",
                superseded_by=self.job.head_sha,
                error=reason,
            )
            if task.check_run_id:
                await self._conclude(forge, task.check_run_id, "cancelled", reason.capitalize())
            if task.job_id:
                await abort_job(self.deps.redis, task.job_id)

    async def _publish(self, forge: Forge, check_id: str, outcome: ReviewOutcome) -> str:
        lock = self.deps.redis.lock(pr_lock_key(self.job), timeout=LOCK_TIMEOUT_S)
        async with lock:
            if await self._superseded():
                return "cancelled"
            verdict = await publish_outcome(
                self.deps,
                forge,
                target=self.target,
                head_sha=self.job.head_sha,
                check_id=check_id,
                outcome=outcome,
                task_id=self.task_id,
                project_id=self.project_id,
                pr_number=self.job.number,
            )
        await audits.finish_task(
            self.deps.sessions,
            self.task_id,
            status="succeeded",
            conclusion=verdict.conclusion,
            **outcome_fields(outcome),
        )
        return "succeeded"

    async def _conclude(self, forge: Forge, check_id: str, conclusion: Any, title: str) -> None:
        await forge.update_check(
            check_id,
            CheckUpdate(
                status="completed",
                conclusion=conclusion,
                title=title,
                summary=title,
                details_url=report_url(self.deps.settings, self.task_id),
            ),
        )

    async def _end(self, forge: Forge, check_id: str, conclusion: Any, title: str, *,
                   status: str, **fields: Any) -> None:
        """Conclude the check run and record the task's end, even when the forge refuses."""
        try:
            await self._conclude(forge, check_id, conclusion, title)
        finally:
            await audits.finish_task(self.deps.sessions, self.task_id, status=status,
                                     conclusion=conclusion, **fields)

    async def _fail(self, forge: Forge, check_id: str, exc: Exception) -> None:
        reason = str(exc)[:500]
        log.error("audit failed: %s", reason)
        await self._end(forge, check_id, "neutral", f"Audit failed: {reason}",
                        status="failed", error=reason)


async def abort_job(redis: Any, job_id: str) -> None:
    """Ask arq to stop a queued or running job (workers run with allow_abort_jobs)."""
    # A timeout only means the job has not stopped yet: the flag is set, its worker sees it.
    with contextlib.suppress(TimeoutError):
        await Job(job_id, redis).abort(timeout=0.01)
