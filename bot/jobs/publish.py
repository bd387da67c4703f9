"""Publishing one audit on a pull request: new inline comments only, the summary edited in
place, fixed findings resolved, findings of files not re-analysed carried forward and
stored; returns how the task ends (the lifecycle concludes the check). Called under the
PR's publish lock."""

from __future__ import annotations

import logging

from bot.analysis.conclusion import decide
from bot.analysis.pipeline import ReviewOutcome
from bot.analysis.placement import PlacedFinding
from bot.analysis.render import comment_body, summary_body
from bot.errors import AuditbotError
from bot.findings import Finding
from bot.forges.base import ChangeTarget, InlineComment
from bot.forges.pull_requests import PullRequestForge
from bot.jobs import endings
from bot.jobs.code_scanning import (
    Analysis,
    known_refusal,
    pull_ref,
    tools_of,
    upload_analysis,
)
from bot.jobs.contracts import Repository
from bot.jobs.deps import JobDeps
from bot.jobs.endings import Ending
from bot.reports.model import finding_from_row
from bot.store import audits

log = logging.getLogger(__name__)

REVIEW_BODY = "auditbot found problems on the lines below; the summary comment has the rest."


async def publish_outcome(
    deps: JobDeps,
    forge: PullRequestForge,
    *,
    target: ChangeTarget,
    head_sha: str,
    outcome: ReviewOutcome,
    task_id: str,
    project_id: int,
    pr_number: int | None,
    report_url: str,
    repository: Repository | None = None,
) -> Ending:
    sessions = deps.sessions
    previous = (
        await audits.open_findings_of_pr(sessions, project_id, pr_number)
        if pr_number is not None
        else []
    )
    current = {p.fingerprint for p in outcome.placed}
    changed_paths = {f.path for f in outcome.change.files}
    posted_before = {row.fingerprint: row.comment_id for row in previous if row.comment_id}

    carried: list[Finding] = []
    fixed_ids: list[int] = []
    for row in previous:
        if row.fingerprint in current:
            continue
        if row.path in outcome.diffs or row.path not in changed_paths:
            fixed_ids.append(row.id)  # re-analysed and gone, or the file left the PR
        else:
            carried.append(finding_from_row(row))

    new_inline = [
        p for p in outcome.placed if p.placement == "inline" and p.fingerprint not in posted_before
    ]
    comments = [_comment(p) for p in new_inline]
    review_id: str | None = None
    moved: set[str] = set()
    if comments:
        result = await forge.publish_review(target, head_sha, comments, REVIEW_BODY)
        review_id = result.review_id
        moved = {c.key for c in result.moved_to_body}

    all_open = [p.finding for p in outcome.placed] + carried
    verdict = decide(
        all_open,
        fail_on=outcome.config.review.fail_on,
        partial_reason=outcome.llm.partial_reason,
    )
    # A repository code scanning is known to refuse is told in the first write of the summary.
    notes = await known_refusal(deps, repository, outcome.config) if repository else []

    def summary_of(lines: list[str]) -> str:
        return summary_body(endings.summary_facts(
            outcome, report_url=report_url, verdict_title=verdict.title, carried=carried,
            notes=lines,
        ))

    summary = summary_of(notes)
    await forge.upsert_summary(target, summary)
    # Before the check concludes: once it says "done", the PR shows everything. Resolving
    # again after a crash finds the threads resolved and sends nothing.
    fixed_keys = [row.fingerprint for row in previous if row.id in fixed_ids and row.comment_id]
    await _resolve_fixed(forge, target, fixed_keys)
    # Stored before the check concludes: its report link then shows them, and a check
    # update the forge refuses loses no findings.
    if fixed_ids:
        await audits.mark_fixed(sessions, fixed_ids, head_sha)

    rows: list[tuple[Finding, str, str | None]] = []
    for placed in outcome.placed:
        placement = "summary" if placed.fingerprint in moved else placed.placement
        comment_id = posted_before.get(placed.fingerprint) or (
            review_id if placement == "inline" else None
        )
        rows.append((placed.finding, placement, comment_id))
    for finding in carried:
        rows.append((finding, "carried", posted_before.get(finding.fingerprint or "")))
    await audits.save_findings(
        sessions,
        task_id=task_id,
        project_id=project_id,
        pr_number=pr_number,
        head_sha=head_sha,
        placed=rows,
    )
    if repository is not None and pr_number is not None:
        # After the summary, so that nothing GitHub code scanning does can hold it up; a
        # first refusal is added to it at once (later ones are known beforehand).
        note = await upload_analysis(deps, forge.code_scanning, repository=repository,
                                     config=outcome.config,
                                     task_id=task_id, analysis=Analysis(
            ref=pull_ref(pr_number), commit_sha=head_sha, findings=all_open,
            tools=tools_of(outcome.llm.model, outcome.llm.partial_reason)))
        if note and note not in notes:
            summary = summary_of([*notes, note])
            await forge.upsert_summary(target, summary)
    log.info(
        "published: %d new comments, %d carried, %d fixed, conclusion %s",
        len(comments),
        len(carried),
        len(fixed_ids),
        verdict.conclusion,
    )
    return endings.succeeded(
        outcome,
        conclusion=verdict.conclusion,
        title=verdict.title,
        summary=summary,
        annotations=endings.check_annotations(all_open),
    )


async def _resolve_fixed(forge: PullRequestForge, target: ChangeTarget, keys: list[str]) -> None:
    """Resolve the review threads of fixed findings. Forgiving: an unresolved thread only
    looks untidy, and must not stop the check from concluding or the findings from being
    stored."""
    if not keys:
        return
    try:
        resolved = await forge.resolve_findings(target, keys)
    except AuditbotError as exc:
        log.warning("could not resolve the threads of %d fixed finding(s): %s", len(keys), exc)
        return
    log.info("resolved %d review thread(s) of fixed findings", resolved)


def _comment(placed: PlacedFinding) -> InlineComment:
    finding = placed.finding
    return InlineComment(
        path=finding.path,
        line=placed.line or finding.end_line,
        start_line=placed.start_line,
        side=finding.side,
        body=comment_body(finding),
        key=placed.fingerprint,
    )
