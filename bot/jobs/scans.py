"""Scans that are not pull requests: a push to the default branch, a whole repository at a
ref, an uploaded ZIP. Results go to a check run on the head commit (forges) and to the
store and report; never to PR comments.

Public repositories: a check run's annotations are readable by anyone, so unless
``PUBLISH_PUBLIC_DETAILS`` is set a scan of a public repository shows counts and the link to
the authenticated report, not the vulnerabilities themselves.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.analysis.llm_review import LLMReviewer
from bot.analysis.pipeline import ReviewOutcome, ReviewPipeline, ReviewRequest
from bot.analysis.render import SummaryFacts, summary_body
from bot.analysis.repo_config import load_repo_config
from bot.errors import AuditbotError
from bot.findings import Finding
from bot.forges.base import (
    Annotation,
    ChangeSource,
    ChangeTarget,
    CheckUpdate,
    Forge,
    is_null_sha,
)
from bot.forges.local.archive import ArchiveSource
from bot.forges.local.zipcheck import vet_archive
from bot.forges.tree import TreeSource
from bot.jobs.budgets import apply_budgets, release_budgets
from bot.jobs.contracts import Repository, ScanArchive, ScanPush, ScanRepository
from bot.jobs.deps import JobDeps, deps_of, task_for_job
from bot.jobs.progress import RedisProgress
from bot.jobs.publish import LEVELS
from bot.jobs.results import outcome_fields
from bot.logs import bind
from bot.signing import report_url
from bot.store import audits
from bot.store.models import Installation, Project

log = logging.getLogger(__name__)


@dataclass
class ScanContext:
    deps: JobDeps
    task_id: str
    project_id: int
    public: bool = False


async def scan_push(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = ScanPush.model_validate(payload)
    deps = deps_of(ctx)
    repo = job.repository
    job_id = str(ctx.get("job_id") or f"scan_push:{job.delivery_id}")
    project_id, task_id, status = await task_for_job(
        deps,
        repo,
        job_id,
        kind="push",
        trigger="webhook",
        delivery_id=job.delivery_id,
        head_ref=job.ref,
        base_sha=job.before,
        head_sha=job.after,
    )
    if status in audits.FINAL_STATUSES:
        return status
    forge = await deps.forges(repo)
    base = job.before if not is_null_sha(job.before) else ""
    scan = ScanContext(deps, task_id, project_id, public=await _is_public(deps, project_id))
    try:
        with bind(task_id=task_id, delivery_id=job.delivery_id):
            return await _run(
                scan,
                forge,
                forge,
                ChangeTarget(base=base or job.before, head=job.after),
                head_sha=job.after,
                config_ref=repo.default_branch or job.after,
            )
    finally:
        await forge.close()  # its HTTP session; one per job


async def scan_repository(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = ScanRepository.model_validate(payload)
    deps = deps_of(ctx)
    async with deps.sessions() as session:
        project = await session.get(Project, job.project_id)
    if project is None or project.kind not in ("github", "gitlab") or project.external_id is None:
        await audits.finish_task(
            deps.sessions, job.task_id, status="failed", error="the project is not a repository"
        )
        return "failed"
    repo = Repository(
        forge=project.kind,  # type: ignore[arg-type]
        id=project.external_id,
        full_name=project.full_name,
        default_branch=project.default_branch,
        installation_id=await _installation_external_id(deps, project.installation_id),
    )
    forge = await deps.forges(repo)
    scan = ScanContext(deps, job.task_id, project.id, public=not project.private)
    try:
        with bind(task_id=job.task_id):
            return await run_tree_scan(scan, forge, job.ref, config_ref=project.default_branch)
    finally:
        await forge.close()


async def run_tree_scan(scan: ScanContext, forge: Forge, ref: str, *, config_ref: str) -> str:
    """Scan every file of ``ref`` as if added; the check run goes on ``ref``'s commit."""
    return await _run(
        scan,
        TreeSource(forge, ref),
        forge,
        ChangeTarget(head=ref),
        head_sha=ref,
        config_ref=config_ref,
    )


async def scan_archive(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = ScanArchive.model_validate(payload)
    deps = deps_of(ctx)
    path = Path(job.archive_path)
    data_dir = deps.settings.data_dir.resolve()
    scan = ScanContext(deps, job.task_id, job.project_id)
    with bind(task_id=job.task_id):
        if not await asyncio.to_thread(_inside, path, data_dir):
            await audits.finish_task(
                deps.sessions,
                job.task_id,
                status="failed",
                error="the uploaded archive is missing",
            )
            return "failed"
        try:
            await asyncio.to_thread(vet_archive, path)
        except AuditbotError as exc:
            await audits.finish_task(deps.sessions, job.task_id, status="failed", error=exc.message)
            return "failed"
        return await _run(
            scan, ArchiveSource(path), None, ChangeTarget(), head_sha=None, config_ref="archive"
        )


async def _run(
    scan: ScanContext,
    source: ChangeSource,
    forge: Forge | None,
    target: ChangeTarget,
    *,
    head_sha: str | None,
    config_ref: str,
) -> str:
    deps = scan.deps
    await audits.start_task(deps.sessions, scan.task_id)
    link = report_url(deps.settings, scan.task_id)
    check_id: str | None = None
    try:
        if forge is not None and head_sha is not None:
            task = await audits.get_task(deps.sessions, scan.task_id)
            check_id = task.check_run_id if task is not None else None
            if not check_id:
                check_id = await forge.create_check(
                    head_sha,
                    CheckUpdate(
                        status="in_progress",
                        title="Scan in progress",
                        summary="auditbot is scanning this commit.",
                        details_url=link,
                    ),
                )
                await audits.update_task(deps.sessions, scan.task_id, check_run_id=check_id)
        policy = await audits.project_policy(
            deps.sessions, scan.project_id, deps.settings.allowed_models
        )
        config, errors = load_repo_config(
            await source.read_repo_config(config_ref), allowed_models=policy.allowed_models
        )
        installation_id = await apply_budgets(deps, scan.project_id, scan.task_id)
        reviewer = (
            LLMReviewer(
                deps.llm,
                concurrency=deps.settings.llm_concurrency,
                task_id=scan.task_id,
                project_id=scan.project_id,
                installation_id=installation_id,
            )
            if deps.llm is not None
            else None
        )
        outcome = await asyncio.wait_for(
            ReviewPipeline(
                source, llm=reviewer, progress=RedisProgress(deps.redis, scan.task_id)
            ).run(
                ReviewRequest(
                    target=target,
                    config=config,
                    config_errors=tuple(errors),
                    false_positives=await audits.silenced_fingerprints(
                        deps.sessions, scan.project_id
                    ),
                )
            ),
            timeout=max(5, deps.settings.job_timeout_s - 15),
        )
    except (AuditbotError, OSError, TimeoutError) as exc:
        reason = str(exc) or "the scan took too long"
        try:
            if forge is not None and check_id is not None:
                await forge.update_check(
                    check_id,
                    CheckUpdate(
                        status="completed",
                        conclusion="neutral",
                        title=f"Scan failed: {reason[:200]}",
                        summary=reason,
                        details_url=link,
                    ),
                )
        finally:  # the task ends even when the forge refuses the check update
            await audits.finish_task(
                deps.sessions, scan.task_id, status="failed", error=reason[:2000]
            )
        return "failed"
    finally:
        release_budgets(deps, scan.task_id)  # the model's part is over either way
    # Findings first: a check update the forge refuses must not lose the scan's results.
    await _store(scan, outcome, head_sha)
    try:
        if forge is not None and check_id is not None:
            await forge.update_check(
                check_id,
                _check_update(
                    outcome, link, public=scan.public and not deps.settings.publish_public_details
                ),
            )
    finally:
        await audits.finish_task(
            deps.sessions,
            scan.task_id,
            status="succeeded",
            conclusion=outcome.verdict.conclusion,
            **outcome_fields(outcome),
        )
    return "succeeded"


def _check_update(outcome: ReviewOutcome, link: str, *, public: bool) -> CheckUpdate:
    findings = outcome.open_findings
    if public:
        counts = (
            ", ".join(
                f"{sum(1 for f in findings if f.severity == s)} {s.value}"
                for s in sorted({f.severity for f in findings}, key=lambda s: -s.rank)
            )
            or "no findings"
        )
        summary = (
            f"{counts}. This repository is public: the details are in the report, "
            f"which needs an account: {link}"
        )
        return CheckUpdate(
            status="completed",
            conclusion=outcome.verdict.conclusion,
            title=outcome.verdict.title,
            summary=summary,
            details_url=link,
        )
    facts = SummaryFacts(
        placed=outcome.placed,
        skipped=outcome.skipped,
        model=outcome.llm.model,
        input_tokens=outcome.llm.input_tokens,
        output_tokens=outcome.llm.output_tokens,
        cost_usd=outcome.llm.cost_usd,
        chunks_total=outcome.llm.chunks_total,
        chunks_failed=outcome.llm.failed,
        partial_reason=outcome.llm.partial_reason,
        config_errors=outcome.config_errors,
        report_url=link,
        verdict_title=outcome.verdict.title,
    )
    return CheckUpdate(
        status="completed",
        conclusion=outcome.verdict.conclusion,
        title=outcome.verdict.title,
        summary=summary_body(facts),
        annotations=tuple(_annotations(findings)),
        details_url=link,
    )


def _annotations(findings: list[Finding]) -> list[Annotation]:
    return [
        Annotation(
            path=f.path,
            start_line=f.start_line,
            end_line=f.end_line,
            level=LEVELS[f.severity],
            title=f.title,
            message=f.message[:1000],
        )
        for f in findings
    ]


async def _store(scan: ScanContext, outcome: ReviewOutcome, head_sha: str | None) -> None:
    deps = scan.deps
    await audits.save_findings(
        deps.sessions,
        task_id=scan.task_id,
        project_id=scan.project_id,
        pr_number=None,
        head_sha=head_sha or outcome.change.head_sha,
        placed=[(p.finding, "report", None) for p in outcome.placed],
    )


def _inside(path: Path, folder: Path) -> bool:
    """The upload is a file under DATA_DIR: a payload can never point the worker elsewhere."""
    return path.resolve().is_relative_to(folder) and path.is_file()


async def _is_public(deps: JobDeps, project_id: int) -> bool:
    async with deps.sessions() as session:
        project = await session.get(Project, project_id)
    return project is not None and not project.private


async def _installation_external_id(deps: JobDeps, installation_id: int | None) -> int | None:
    if installation_id is None:
        return None
    async with deps.sessions() as session:
        row = await session.get(Installation, installation_id)
    return row.external_id if row is not None else None
