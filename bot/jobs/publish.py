"""Publishing one audit on a pull request: new inline comments only, the summary edited in
place, fixed findings resolved, findings of files not re-analysed carried forward, and the
check concluded. Called under the PR's publish lock."""

from __future__ import annotations

import logging

from bot.analysis.conclusion import Verdict, decide
from bot.analysis.pipeline import ReviewOutcome
from bot.analysis.placement import PlacedFinding
from bot.analysis.render import SummaryFacts, comment_body, summary_body
from bot.errors import AuditbotError
from bot.findings import Finding, Severity
from bot.forges.base import (
    Annotation,
    AnnotationLevel,
    ChangeTarget,
    CheckUpdate,
    Forge,
    InlineComment,
)
from bot.jobs.deps import JobDeps
from bot.reports.model import finding_from_row
from bot.signing import report_url
from bot.store import audits

log = logging.getLogger(__name__)

LEVELS: dict[Severity, AnnotationLevel] = {
    Severity.CRITICAL: "failure",
    Severity.HIGH: "failure",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}
REVIEW_BODY = "auditbot found problems on the lines below; the summary comment has the rest."


async def publish_outcome(
    deps: JobDeps,
    forge: Forge,
    *,
    target: ChangeTarget,
    head_sha: str,
    check_id: str,
    outcome: ReviewOutcome,
    task_id: str,
    project_id: int,
    pr_number: int | None,
    annotate: bool = True,
) -> Verdict:
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
    link = report_url(deps.settings, task_id)
    summary = summary_body(_facts(outcome, carried, verdict.title, link))
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
    await forge.update_check(
        check_id,
        CheckUpdate(
            status="completed",
            conclusion=verdict.conclusion,
            title=verdict.title,
            summary=summary,
            annotations=tuple(_annotation(f) for f in all_open) if annotate else (),
            details_url=link,
        ),
    )
    log.info(
        "published: %d new comments, %d carried, %d fixed, conclusion %s",
        len(comments),
        len(carried),
        len(fixed_ids),
        verdict.conclusion,
    )
    return verdict


async def _resolve_fixed(forge: Forge, target: ChangeTarget, keys: list[str]) -> None:
    """Resolve the review threads of fixed findings. Forgiving: an unresolved thread only
    looks untidy, and must not stop the check from concluding or the findings from being
    stored."""
    resolve = getattr(forge, "resolve_findings", None)
    if resolve is None or not keys:
        return
    try:
        resolved = await resolve(target, keys)
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


def _annotation(finding: Finding) -> Annotation:
    return Annotation(
        path=finding.path,
        start_line=finding.start_line,
        end_line=finding.end_line,
        level=LEVELS[finding.severity],
        title=finding.title,
        message=finding.message[:1000],
    )


def _facts(
    outcome: ReviewOutcome, carried: list[Finding], verdict_title: str, link: str
) -> SummaryFacts:
    stats = outcome.llm
    placed = list(outcome.placed) + [
        PlacedFinding(f, "summary", "carried forward") for f in carried
    ]
    return SummaryFacts(
        placed=placed,
        skipped=outcome.skipped,
        model=stats.model,
        input_tokens=stats.input_tokens,
        output_tokens=stats.output_tokens,
        cached_tokens=stats.cached_tokens,
        cost_usd=stats.cost_usd,
        cache_hits=stats.cache_hits,
        chunks_total=stats.chunks_total,
        chunks_failed=stats.failed,
        dropped=stats.dropped,
        partial_reason=stats.partial_reason,
        config_errors=outcome.config_errors,
        truncated=outcome.change.truncated,
        report_url=link,
        verdict_title=verdict_title,
    )
