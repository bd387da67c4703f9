"""The life of an audit task: the one module that opens check runs, concludes them and
ends tasks.

Every job that audits something (a pull request review, a push, repository or archive scan,
an `/audit` command) runs as one :class:`Audit`: :meth:`Audit.begin` marks the task running
and opens its check run once (a retried job finds the run its first try opened), the job
builds its reviewer and progress sinks here, and :meth:`Audit.end` concludes the check and
records the task's end from one :class:`Ending`. Ending *other* tasks (a newer push
supersedes an older review, `/audit cancel`, the reconciler, the retry policy giving up)
goes through :func:`end_task` and :func:`end_stored_task` too; a cancel through the API,
in the web process, which has no forge, goes through :func:`cancel_from_web`, and a worker
concludes its check run (:func:`conclude_check`). So "every check run we
open reaches a conclusion" and "no task stays running" each have one home;
``tests/jobs/test_lifecycle.py`` fails when another module concludes a check or ends a task.

The order is always: record the end, then conclude the check, so the row ends even when
the forge refuses the update (the exception still reaches the caller). A task's end is
recorded once: a final status is final (``bot.store.audits``: a conditional UPDATE), so a
job started after a cancel does not run it, and a job ending after a cancel does not
overwrite it; the check run then says what the row records.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from arq.connections import ArqRedis
from arq.jobs import Job
from redis.exceptions import RedisError

from bot.errors import AuditbotError
from bot.forges.base import ChangeTarget, CheckUpdate, Publisher
from bot.jobs import endings
from bot.jobs.contracts import CONCLUDE_CHECK, ConcludeCheck
from bot.jobs.deps import JobDeps, deps_of, repository_of
from bot.jobs.endings import Ending
from bot.jobs.progress import CheckProgress, Fanout, RedisProgress
from bot.signing import report_url
from bot.store import audits
from bot.store.audits import Sessions
from bot.store.models import AuditTask

if TYPE_CHECKING:  # the web process ends tasks here too: it need not load the pipeline
    from bot.analysis.llm_review import LLMReviewer
    from bot.analysis.pipeline import ProgressFn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Words:
    """What the check run says while the work is in progress."""

    title: str
    summary: str
    noun: str


REVIEW_WORDS = Words("Audit in progress", "auditbot is reviewing this change.", "Audit")
SCAN_WORDS = Words("Scan in progress", "auditbot is scanning this commit.", "Scan")


async def end_task(
    sessions: Sessions,
    task_id: str,
    ending: Ending,
    *,
    forge: Publisher | None = None,
    check_id: str | None = None,
    details_url: str | None = None,
    record: bool = True,
) -> str:
    """Record the task's end and conclude ``check_id`` (when there is one); the record is
    kept even when the forge refuses the update, and then says the check is still open
    (``check_concluded_at`` stays empty: a retry of the job or the reconciler concludes it).
    A task that had already ended keeps its end (a cancel came first): the check is then
    concluded as the row records, unless that was done, and the result is that end's.
    ``record=False`` only concludes the check of a task someone else already ended."""
    if record and not await _record_end(sessions, task_id, ending):
        task = await audits.get_task(sessions, task_id)
        if task is None:
            return "cancelled"
        log.info("task %s had already ended %s; that end stands", task_id, task.status)
        ending = endings.as_recorded(task)
        if task.check_concluded_at is not None:
            return ending.label
    if forge is not None and check_id:
        update = CheckUpdate(
            status="completed",
            conclusion=ending.conclusion,
            title=ending.title,
            summary=ending.summary or ending.title,
            annotations=ending.annotations,
            details_url=details_url,
        )
        await forge.update_check(check_id, update)
        await audits.update_task(sessions, task_id, check_concluded_at=audits.now())
    return ending.label


async def _record_end(sessions: Sessions, task_id: str, ending: Ending) -> bool:
    """Whether this ending is the task's: False when it had already ended."""
    fields = {"error": None, **ending.fields}
    return await audits.finish_task(
        sessions, task_id, status=ending.status, conclusion=ending.conclusion, **fields
    )


async def end_stored_task(
    deps: JobDeps,
    task: AuditTask,
    ending: Ending,
    *,
    forge: Publisher | None = None,
    record: bool = True,
) -> None:
    """End a task known by its row (a cancel, the reconciler, a job that gave up). Without
    a ``forge`` one is built from the task's project; when that fails the row still ends
    and the reason is logged (the check then says "in progress" until someone re-runs)."""
    own_forge = None
    if forge is None and task.check_run_id and task.project_id is not None:
        try:
            repo = await repository_of(deps, task.project_id)
            own_forge = await deps.forges(repo) if repo is not None else None
        except Exception as exc:  # noqa: BLE001 - the row must end whatever the forge says
            log.warning("no forge to conclude the check of task %s: %s", task.id, exc)
    try:
        await end_task(deps.sessions, task.id, ending, forge=forge or own_forge,
                       check_id=task.check_run_id, details_url=report_url(deps.settings, task.id),
                       record=record)
    finally:
        if own_forge is not None:
            await own_forge.close()


async def cancel_tasks(
    deps: JobDeps, forge: Publisher | None, tasks: Sequence[AuditTask], ending: Ending
) -> None:
    """Stop queued or running tasks: the row ends first (a job that looks sees it ended,
    one that starts later does not run), then the arq job is aborted, then the check run
    says why. A task that ended meanwhile (it finished, or another cancel came first) keeps
    its end and is left alone. The row is read again for the check: a job that opened its
    run after the list was read stored its id since. A check the forge does not conclude
    now stays recorded as open for the reconciler; the caller's own audit goes on."""
    for task in tasks:
        if not await _record_end(deps.sessions, task.id, ending):
            log.info("task %s ended before its cancel; its end stands", task.id)
            continue
        if task.job_id:
            await abort_job(deps.redis, task.job_id)
        current = await audits.get_task(deps.sessions, task.id) or task
        try:
            await end_stored_task(deps, current, ending, forge=forge, record=False)
        except (AuditbotError, OSError) as exc:
            log.warning("check of task %s left for the reconciler: %s", task.id, exc)


async def cancel_from_web(
    sessions: Sessions, redis: ArqRedis, task: AuditTask, ending: Ending
) -> None:
    """Cancel a task where no forge is at hand (the API, in the web process), in
    :func:`cancel_tasks`' order: the row ends now, the arq job is asked to stop, and a
    ``conclude_check`` job concludes the check run on a worker. Should that job not run
    (Redis lost it), the reconciler concludes the check from the row. A task that ended
    meanwhile keeps its end and is left alone."""
    if not await _record_end(sessions, task.id, ending):
        log.info("task %s ended before its cancel; its end stands", task.id)
        return
    if task.job_id:
        await abort_job(redis, task.job_id)
    await redis.enqueue_job(
        CONCLUDE_CHECK,
        ConcludeCheck(task_id=task.id).model_dump(mode="json"),
        _job_id=f"{CONCLUDE_CHECK}:{task.id}",
    )


async def conclude_check(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    """The arq job of :func:`cancel_from_web`: conclude the check run of a task that ended
    elsewhere, from what its row records; read now, so a run its job opened after the
    cancel is found too."""
    job = ConcludeCheck.model_validate(payload)
    deps = deps_of(ctx)
    task = await audits.get_task(deps.sessions, job.task_id)
    if task is None or not task.check_run_id or task.check_concluded_at is not None:
        return "nothing to conclude"
    await conclude_open_check(deps, task)
    return "concluded"


async def conclude_open_check(
    deps: JobDeps, task: AuditTask, *, forge: Publisher | None = None
) -> None:
    """Conclude the check run of an ended task whose conclusion the forge never took
    (a retried job finding its task ended, the reconciler), from what the row says."""
    if task.status not in audits.FINAL_STATUSES or not task.check_run_id:
        return
    if task.check_concluded_at is not None:
        return
    await end_stored_task(deps, task, endings.as_recorded(task), forge=forge, record=False)


async def abort_job(redis: Any, job_id: str) -> None:
    """Ask arq to stop a queued or running job (workers run with allow_abort_jobs).

    arq's abort sets the flag, then reads the job's result: that re-raises the old job's
    own failure, or DeserializationError when the result cannot be read. Neither concerns
    the caller, whose row for that task has already ended; only the flag matters (a
    deferred job is also moved to the front, so that it is dropped now)."""
    try:
        await Job(job_id, redis).abort(timeout=0.01, poll_delay=0.005)
    except TimeoutError:
        pass  # the flag is set; the job has not stopped yet and its worker will see it
    except (RedisError, OSError):
        raise
    except Exception as exc:  # noqa: BLE001 - the aborted job's error, not ours
        log.info("aborted job %s had ended with %s", job_id, type(exc).__name__)


@runtime_checkable
class FindsChecks(Protocol):
    """A forge whose check run creation may be applied with its answer lost (GitHub)."""

    async def find_check(self, head_sha: str, key: str) -> str | None: ...


class Audit:
    """One task's run inside one job: its row, its forge and its check run.

    ``forge`` is None for sources without one (an uploaded archive); ``head_sha`` None
    means no check run (an archive has no commit)."""

    def __init__(
        self,
        deps: JobDeps,
        task_id: str,
        project_id: int,
        *,
        forge: Publisher | None,
        head_sha: str | None,
        target: ChangeTarget | None = None,
        words: Words = REVIEW_WORDS,
    ) -> None:
        self.deps = deps
        self.task_id = task_id
        self.project_id = project_id
        self.forge = forge
        self.head_sha = head_sha
        self.target = target
        self.words = words
        self.check_id: str | None = None
        self.link = report_url(deps.settings, task_id)

    async def begin(self) -> str | None:
        """Mark the task running and open its check run, once per task: a later try finds
        the run an earlier one opened, even when the forge's answer to that was lost.

        Returns None when the audit is to go on, else how the task ended, and the job must
        stop there, publishing nothing: a task that ended before this job could start it
        (a cancel, another run of this job) is not started and no check run is opened; a
        cancel that came while the check run was being opened is found after it."""
        attempt = await audits.start_task(self.deps.sessions, self.task_id)
        if attempt is None:
            task = await audits.get_task(self.deps.sessions, self.task_id)
            if task is not None and task.check_run_id:
                self.check_id = task.check_run_id  # an earlier try's
            return await self.stop_if_ended()
        if self.forge is None or self.head_sha is None:
            return await self.stop_if_ended()
        task = await audits.get_task(self.deps.sessions, self.task_id)
        if task is not None and task.check_run_id:
            self.check_id = task.check_run_id
            return await self.stop_if_ended()
        if attempt > 1 and isinstance(self.forge, FindsChecks):
            self.check_id = await self.forge.find_check(self.head_sha, self.task_id)
        if self.check_id is None:
            self.check_id = await self.forge.create_check(
                self.head_sha,
                CheckUpdate(status="in_progress", title=self.words.title,
                            summary=self.words.summary, details_url=self.link),
                self.target,
                key=self.task_id,
            )
        await audits.update_task(self.deps.sessions, self.task_id, check_run_id=self.check_id)
        return await self.stop_if_ended()

    async def ended_elsewhere(self) -> str | None:
        """How the task ended if someone else ended it, else None: "cancelled" by another job
        (a newer push, `/audit cancel`; also a row that is gone), or the status another run
        of this same job recorded (its lease ran out while it lived, and the job was re-run:
        the first to publish ends the task, the other publishes nothing)."""
        task = await audits.get_task(self.deps.sessions, self.task_id)
        if task is None:
            return "cancelled"
        return task.status if task.status in audits.FINAL_STATUSES else None

    async def stop_if_ended(self) -> str | None:
        """:meth:`ended_elsewhere`, and for a cancelled task this audit's check run (if it
        has one) concluded as the row records: the canceller may have read the row before
        the run was opened. The check of a task another run of this job ended is that
        run's to conclude."""
        ended = await self.ended_elsewhere()
        if ended != "cancelled" or self.forge is None or self.check_id is None:
            return ended
        task = await audits.get_task(self.deps.sessions, self.task_id)
        if task is None:
            ending = endings.cancelled(self.words.noun, "cancelled: its record is gone")
            await self.end(ending, record=False)
        elif task.check_concluded_at is None:
            await end_task(self.deps.sessions, self.task_id, endings.as_recorded(task),
                           forge=self.forge, check_id=self.check_id, details_url=self.link,
                           record=False)
        return ended

    def reviewer(self, installation_id: int | None) -> LLMReviewer | None:
        """The model's part of this audit; None for offline analyzers only."""
        if self.deps.llm is None:
            return None
        from bot.analysis.llm_review import LLMReviewer  # see TYPE_CHECKING above

        return LLMReviewer(
            self.deps.llm,
            concurrency=self.deps.settings.llm_concurrency,
            task_id=self.task_id,
            project_id=self.project_id,
            installation_id=installation_id,
        )

    def progress(self, *, on_check: bool = False) -> ProgressFn:
        """Progress for the WebSocket; also on the check run's "in progress" line."""
        live = RedisProgress(self.deps.redis, self.task_id)
        if on_check and self.forge is not None and self.check_id is not None:
            return Fanout(live, CheckProgress(self.forge, self.check_id, self.link,
                                              running=self._running))
        return live

    async def _running(self) -> bool:
        return await self.ended_elsewhere() is None

    def time_limit_s(self) -> float:
        """How long this audit's analysis may take (``JobDeps.timing``)."""
        return self.deps.timing.limit_s(self.deps.settings.job_timeout_s)

    async def end(self, ending: Ending, *, record: bool = True) -> str:
        """Conclude this task's check run and record its end; returns the job's result."""
        return await end_task(
            self.deps.sessions, self.task_id, ending, forge=self.forge,
            check_id=self.check_id, details_url=self.link, record=record,
        )
