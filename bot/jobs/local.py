"""`auditbot review`: the review pipeline in-process on a local repository or a ZIP, with
no web server, Redis or forge. The task and its findings are stored like any other audit,
so `auditbot serve` shows them afterwards."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from bot.analysis.llm_review import LLMReviewer
from bot.analysis.pipeline import ProgressFn, ReviewOutcome, ReviewPipeline, ReviewRequest
from bot.config import Settings
from bot.forges.base import ChangeSource, ChangeTarget
from bot.forges.local.archive import ArchiveSource
from bot.forges.local.git import LocalGitSource
from bot.jobs import endings
from bot.jobs.lifecycle import end_task
from bot.llm.service import build_llm_service
from bot.reports.model import Report, ReportFinding, SkippedFile, TaskInfo
from bot.store import audits
from bot.store.db import create_engine, session_factory
from bot.store.migrate import upgrade

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalReview:
    path: Path
    base: str | None = None
    head: str | None = None
    zip_file: Path | None = None


@dataclass(frozen=True)
class LocalResult:
    task_id: str
    outcome: ReviewOutcome
    report: Report


def with_local_state(settings: Settings, cache_dir: Path) -> Settings:
    """Where ``auditbot review`` keeps its database and model cache: ``DATABASE_URL`` and
    ``DATA_DIR`` when they are set, else ``cache_dir``. The defaults (``./auditbot.db``,
    ``./data``) are relative to the working directory, which for a review is usually the
    audited repository: a state file there would show up in its ``git status``."""
    chosen = settings.model_fields_set
    state = settings.data_dir if "data_dir" in chosen else cache_dir
    update: dict[str, object] = {"data_dir": state}
    if "database_url" not in chosen:
        update["database_url"] = f"sqlite+aiosqlite:///{state.resolve() / 'review.db'}"
    return settings.model_copy(update=update)


async def run_local_review(
    settings: Settings, review: LocalReview, *, progress: ProgressFn | None = None
) -> LocalResult:
    source: ChangeSource
    if review.zip_file is not None:
        source, kind, name = ArchiveSource(review.zip_file), "archive", review.zip_file.name
    else:
        source, kind, name = LocalGitSource(review.path), "local", str(review.path.resolve())
    await _migrate(settings.database_url)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    service = build_llm_service(settings, None)
    try:
        project_id = await audits.ensure_project(sessions, kind=kind, full_name=name)
        task_id = await audits.create_task(
            sessions,
            project_id=project_id,
            kind=kind,
            trigger="cli",
            base_ref=review.base,
            head_ref=review.head,
        )
        await audits.start_task(sessions, task_id)
        reviewer = (
            LLMReviewer(
                service,
                concurrency=settings.llm_concurrency,
                task_id=task_id,
                project_id=project_id,
            )
            if service is not None
            else None
        )
        pipeline = ReviewPipeline(source, llm=reviewer, progress=progress)
        try:
            outcome = await pipeline.run(
                ReviewRequest(
                    target=ChangeTarget(base=review.base, head=review.head),
                    false_positives=await audits.silenced_fingerprints(sessions, project_id),
                    allowed_models=tuple(settings.allowed_models),
                )
            )
        except Exception as exc:
            await end_task(sessions, task_id, endings.failed("Audit", str(exc)))
            raise
        await audits.save_findings(
            sessions,
            task_id=task_id,
            project_id=project_id,
            pr_number=None,
            head_sha=outcome.change.head_sha,
            placed=[(p.finding, p.placement, None) for p in outcome.placed],
        )
        verdict = outcome.verdict
        ending = endings.succeeded(outcome, conclusion=verdict.conclusion, title=verdict.title,
                                   summary="")
        await end_task(sessions, task_id, ending)
        task = await audits.get_task(sessions, task_id)
        assert task is not None
        report = report_from_outcome(task_id, kind, name, outcome, status=task.status)
        return LocalResult(task_id, outcome, report)
    finally:
        if service is not None:
            await service.aclose()
        await source.close()
        await engine.dispose()


def report_from_outcome(
    task_id: str, kind: str, name: str, outcome: ReviewOutcome, *, status: str = "succeeded"
) -> Report:
    info = TaskInfo(
        id=task_id,
        kind=kind,
        status=status,
        trigger="cli",
        project=name,
        project_kind=kind,
        base_sha=outcome.change.base_sha,
        head_sha=outcome.change.head_sha,
        conclusion=outcome.verdict.conclusion,
        **endings.usage_fields(outcome),
    )
    findings = [ReportFinding.of(p.finding, placement=p.placement) for p in outcome.placed]
    skipped = [SkippedFile(path=p, reason=r) for p, r in outcome.skipped]
    return Report.build(info, findings, skipped)


async def _migrate(database_url: str) -> None:
    # Alembic runs its own event loop; keep it off ours.
    await asyncio.to_thread(upgrade, database_url)
