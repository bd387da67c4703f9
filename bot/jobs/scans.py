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
from pathlib import Path
from typing import Any

from bot.analysis.pipeline import ReviewOutcome, ReviewPipeline, ReviewRequest
from bot.analysis.render import summary_body
from bot.analysis.repo_config import load_repo_config
from bot.errors import AuditbotError
from bot.forges.base import ChangeSource, ChangeTarget, Forge, is_null_sha
from bot.forges.code_scanning import CodeScanning
from bot.forges.local.archive import ArchiveSource
from bot.forges.local.zipcheck import vet_archive
from bot.forges.tree import TreeSource
from bot.jobs import endings
from bot.jobs.budgets import apply_budgets, release_budgets
from bot.jobs.code_scanning import (
    Analysis,
    branch_analysis,
    branch_ref,
    follow_analysis,
    tools_of,
    upload_analysis,
)
from bot.jobs.contracts import Repository, ScanArchive, ScanPush, ScanRepository
from bot.jobs.deps import deps_of, repository_of, task_for_delivery
from bot.jobs.endings import Ending
from bot.jobs.lifecycle import SCAN_WORDS, Audit, end_task
from bot.jobs.metrics import count_findings
from bot.logs import bind
from bot.store import audits
from bot.store.learnings import review_notes

log = logging.getLogger(__name__)


# The repository and ref of a scan's code scanning analysis, and the forge's code scanning.
Upload = tuple[Repository, str, CodeScanning | None]


async def scan_push(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = ScanPush.model_validate(payload)
    deps = deps_of(ctx)
    repo = job.repository
    job_id = str(ctx.get("job_id") or f"scan_push:{job.delivery_id}")
    project_id, task_id, status = await task_for_delivery(
        deps, job, job_id, kind="push", trigger="webhook", head_ref=job.ref,
        base_sha=job.before, head_sha=job.after,
    )
    if status in audits.FINAL_STATUSES:
        return status
    forge = await deps.forges(repo)
    base = job.before if not is_null_sha(job.before) else ""
    audit = Audit(deps, task_id, project_id, forge=forge, head_sha=job.after, words=SCAN_WORDS)
    try:
        with bind(task_id=task_id, delivery_id=job.delivery_id):
            target = ChangeTarget(base=base or job.before, head=job.after)
            return await run_scan(audit, forge, target, config_ref=repo.default_branch or job.after,
                                  upload=(repo, branch_ref(job.ref), forge.code_scanning))
    finally:
        await forge.close()  # its HTTP session; one per job


async def scan_repository(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = ScanRepository.model_validate(payload)
    deps = deps_of(ctx)
    repo = await repository_of(deps, job.project_id)
    if repo is None:
        ending = endings.failed("Scan", "the project is not a repository")
        return await end_task(deps.sessions, job.task_id, ending)
    forge = await deps.forges(repo)
    audit = Audit(deps, job.task_id, job.project_id, forge=forge, head_sha=job.ref,
                  words=SCAN_WORDS)
    try:
        with bind(task_id=job.task_id):
            return await run_tree_scan(audit, forge, job.ref,
                                       config_ref=repo.default_branch or job.ref)
    finally:
        await forge.close()


async def run_tree_scan(audit: Audit, forge: Forge, ref: str, *, config_ref: str) -> str:
    """Scan every file of ``ref`` as if added; the check run goes on ``ref``'s commit."""
    return await run_scan(audit, TreeSource(forge, ref), ChangeTarget(head=ref),
                          config_ref=config_ref)


async def scan_archive(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = ScanArchive.model_validate(payload)
    deps = deps_of(ctx)
    path = Path(job.archive_path)
    data_dir = deps.settings.data_dir.resolve()
    with bind(task_id=job.task_id):
        if not await asyncio.to_thread(_inside, path, data_dir):
            ending = endings.failed("Scan", "the uploaded archive is missing")
            return await end_task(deps.sessions, job.task_id, ending)
        try:
            await asyncio.to_thread(vet_archive, path)
        except AuditbotError as exc:
            return await end_task(deps.sessions, job.task_id, endings.failed("Scan", exc.message))
        audit = Audit(deps, job.task_id, job.project_id, forge=None, head_sha=None,
                      words=SCAN_WORDS)
        return await run_scan(audit, ArchiveSource(path), ChangeTarget(), config_ref="archive")


async def run_scan(
    audit: Audit,
    source: ChangeSource,
    target: ChangeTarget,
    *,
    config_ref: str,
    upload: Upload | None = None,
) -> str:
    """One scan from the check run's start to its end; errors go to the retry policy.
    ``upload``: the repository and ref whose code scanning analysis this scan is, and the
    forge's code scanning."""
    deps = audit.deps
    ended = await audit.begin()
    if ended is not None:  # cancelled before it started, or ended by another run
        log.info("task %s already %s: not scanning", audit.task_id, ended)
        return ended
    try:
        policy = await audits.project_policy(
            deps.sessions, audit.project_id, deps.settings.allowed_models
        )
        config, errors = load_repo_config(
            await source.read_repo_config(config_ref), allowed_models=policy.allowed_models
        )
        installation_id = await apply_budgets(deps, audit.project_id, audit.task_id)
        pipeline = ReviewPipeline(
            source, llm=audit.reviewer(installation_id), progress=audit.progress(),
            analyzer_slots=deps.analyzer_slots,
        )
        request = ReviewRequest(
            target=target,
            config=config,
            config_errors=tuple(errors),
            false_positives=await audits.silenced_fingerprints(deps.sessions, audit.project_id),
            learnings=await review_notes(deps.sessions, audit.project_id),
        )
        try:
            outcome = await asyncio.wait_for(pipeline.run(request), timeout=audit.time_limit_s())
        except TimeoutError:
            return await audit.end(endings.timed_out("Scan", audit.time_limit_s()))
    finally:
        release_budgets(deps, audit.task_id)  # the model's part is over either way
    ended = await audit.stop_if_ended()
    if ended is not None:  # cancelled during the analysis: nothing is stored or uploaded
        log.info("task %s %s during the scan: publishing nothing", audit.task_id, ended)
        return ended
    await count_findings(deps.redis, task_id=audit.task_id, head_sha=outcome.change.head_sha,
                         findings=outcome.open_findings)
    # Findings first: a check update the forge refuses must not lose the scan's results.
    await audits.save_findings(
        deps.sessions,
        task_id=audit.task_id,
        project_id=audit.project_id,
        pr_number=None,
        head_sha=audit.head_sha or outcome.change.head_sha,
        placed=[(p.finding, "report", None) for p in outcome.placed],
    )
    notes = await _upload(audit, outcome, upload)
    public = await _is_public(audit) and not deps.settings.publish_public_details
    result = await audit.end(_ending(outcome, audit.link, public=public, notes=notes))
    if upload is not None:
        await follow_analysis(deps, upload[2], audit.task_id)
    return result


async def _upload(audit: Audit, outcome: ReviewOutcome, upload: Upload | None) -> list[str]:
    """The default branch's analysis for code scanning (pull requests compare with it)."""
    if upload is None or audit.head_sha is None:
        return []
    repository, ref, scanning = upload
    findings = await branch_analysis(
        audit.deps, project_id=audit.project_id, task_id=audit.task_id, ref=ref,
        found=outcome.open_findings, changed_paths={f.path for f in outcome.change.files},
    )
    note = await upload_analysis(
        audit.deps, scanning, repository=repository, config=outcome.config,
        task_id=audit.task_id,
        analysis=Analysis(ref=ref, commit_sha=audit.head_sha, findings=findings,
                          tools=tools_of(outcome.llm.model, outcome.llm.partial_reason)),
    )
    return [note] if note else []


def _ending(outcome: ReviewOutcome, link: str, *, public: bool, notes: list[str]) -> Ending:
    verdict = outcome.verdict
    if public:
        summary = endings.counts_only(outcome.open_findings, link)
        return endings.succeeded(
            outcome, conclusion=verdict.conclusion, title=verdict.title, summary=summary
        )
    facts = endings.summary_facts(outcome, report_url=link, verdict_title=verdict.title,
                                  notes=notes)
    return endings.succeeded(
        outcome,
        conclusion=verdict.conclusion,
        title=verdict.title,
        summary=summary_body(facts),
        annotations=endings.check_annotations(outcome.open_findings),
    )


def _inside(path: Path, folder: Path) -> bool:
    """The upload is a file under DATA_DIR: a payload can never point the worker elsewhere."""
    return path.resolve().is_relative_to(folder) and path.is_file()


async def _is_public(audit: Audit) -> bool:
    ref = await audits.project_ref(audit.deps.sessions, audit.project_id)
    return ref is not None and not ref.private
