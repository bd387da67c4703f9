"""How an audit task ends, as data: the row's status and fields, the check run's conclusion,
title, summary and annotations. :mod:`bot.jobs.lifecycle` applies an :class:`Ending`; the
jobs only choose one.

The summary facts and annotations of a finished audit are built here once, for pull request
reviews and scans alike (a scan of a truncated tree says so, as a review does).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bot.analysis.placement import PlacedFinding
from bot.analysis.render import SummaryFacts
from bot.findings import Finding, Severity
from bot.forges.base import Annotation, AnnotationLevel, CheckConclusion
from bot.store.models import AuditTask

if TYPE_CHECKING:  # the web process ends tasks with these endings: no pipeline there
    from bot.analysis.pipeline import ReviewOutcome

TaskStatus = Literal["succeeded", "failed", "cancelled"]

LEVELS: dict[Severity, AnnotationLevel] = {
    Severity.CRITICAL: "failure",
    Severity.HIGH: "failure",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}


@dataclass(frozen=True)
class Ending:
    """How a task ends. ``result`` is the job's return value when it differs from the
    status (a skipped audit is a succeeded task)."""

    status: TaskStatus
    conclusion: CheckConclusion
    title: str
    summary: str = ""
    annotations: tuple[Annotation, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)
    result: str = ""

    @property
    def label(self) -> str:
        return self.result or self.status


def skipped(noun: str, reason: str) -> Ending:
    return Ending("succeeded", "neutral", f"{noun} skipped: {reason}", result="skipped",
                  fields={"partial_reason": reason})


def superseded(head_sha: str, title: str | None = None) -> Ending:
    reason = f"superseded by {head_sha[:12]}"
    return Ending("cancelled", "cancelled", title or reason.capitalize(),
                  fields={"superseded_by": head_sha, "error": reason})


def cancelled(noun: str, reason: str) -> Ending:
    return Ending("cancelled", "cancelled", f"{noun} {reason}",
                  summary=f"The {noun.lower()} was {reason}.", fields={"error": reason})


def timed_out(noun: str, limit_s: float) -> Ending:
    reason = f"the {noun.lower()} took longer than {limit_s:g} s"
    return Ending("failed", "timed_out", f"{noun} stopped: {reason}", fields={"error": reason})


def failed(noun: str, reason: str) -> Ending:
    reason = reason[:2000]
    return Ending("failed", "neutral", f"{noun} failed: {reason[:200]}", summary=reason,
                  fields={"error": reason})


def stopped_without_finishing(limit_s: float) -> Ending:
    reason = f"the audit stopped without finishing (no worker completed it within {limit_s:g} s)"
    return Ending("failed", "timed_out", "Audit stopped", summary=reason,
                  fields={"error": reason})


def as_recorded(task: AuditTask) -> Ending:
    """The ending a task's row records (status, conclusion, error), for a check run that
    missed it; the report behind the details link has the rest."""
    noun = "Audit" if task.kind == "review" else "Scan"
    status: TaskStatus = task.status  # type: ignore[assignment]  # a final status
    conclusion: CheckConclusion = task.conclusion or "neutral"  # type: ignore[assignment]
    if status == "cancelled" and task.superseded_by:
        return superseded(task.superseded_by)
    if status == "cancelled":
        return cancelled(noun, task.error or "cancelled")
    if status == "failed":
        return Ending("failed", conclusion, f"{noun} failed: {(task.error or '')[:200]}",
                      summary=task.error or "")
    count = task.findings_count or 0
    return Ending(status, conclusion, f"{noun} finished: {count} finding(s)",
                  summary=f"{count} finding(s); the details are in the report.")


def succeeded(
    outcome: ReviewOutcome,
    *,
    conclusion: CheckConclusion,
    title: str,
    summary: str,
    annotations: Iterable[Annotation] = (),
) -> Ending:
    return Ending("succeeded", conclusion, title, summary=summary,
                  annotations=tuple(annotations), fields=outcome_fields(outcome))


def usage_fields(outcome: ReviewOutcome) -> dict[str, Any]:
    """The model's part of an audit as the task row, the summary and the report state it:
    which model, its tokens and cost, and why it stopped short (None: it did not)."""
    stats = outcome.llm
    return {
        "model": stats.model,
        "input_tokens": stats.input_tokens,
        "output_tokens": stats.output_tokens,
        "cached_tokens": stats.cached_tokens,
        "cost_usd": stats.cost_usd,
        "partial_reason": stats.partial_reason,
    }


def outcome_fields(outcome: ReviewOutcome) -> dict[str, Any]:
    """What the outcome writes on the task row: SHAs, counts by severity, tokens and cost,
    the partial reason, and the skipped files the report lists."""
    stats = outcome.llm
    counts = dict.fromkeys((s.value for s in Severity), 0)
    for finding in outcome.open_findings:
        counts[finding.severity.value] += 1
    return {
        "base_sha": outcome.change.base_sha,
        "head_sha": outcome.change.head_sha,
        "findings_count": len(outcome.placed),
        **usage_fields(outcome),
        "counts": counts,
        "progress": {
            "files": outcome.files_reviewed,
            "chunks": stats.chunks_total,
            "cache_hits": stats.cache_hits,
            "skipped": [{"path": p, "reason": r} for p, r in outcome.skipped],
        },
    }


def summary_facts(
    outcome: ReviewOutcome,
    *,
    report_url: str,
    verdict_title: str,
    carried: Sequence[Finding] = (),
    notes: Sequence[str] = (),
) -> SummaryFacts:
    """What the summary comment and the check run state about a finished audit;
    ``carried`` are open findings of files this run did not analyse again; ``notes`` are
    lines to add after the pipeline's own (why GitHub code scanning got nothing, ...)."""
    stats = outcome.llm
    placed = [*outcome.placed, *(PlacedFinding(f, "summary", "carried forward") for f in carried)]
    return SummaryFacts(
        placed=placed,
        skipped=outcome.skipped,
        **usage_fields(outcome),
        cache_hits=stats.cache_hits,
        chunks_total=stats.chunks_total,
        chunks_failed=stats.failed,
        dropped=stats.dropped,
        config_errors=outcome.config_errors,
        truncated=outcome.change.truncated,
        report_url=report_url,
        verdict_title=verdict_title,
        notes=[*outcome.notes, *notes],
    )


def check_annotations(findings: Iterable[Finding]) -> list[Annotation]:
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


def counts_only(findings: Sequence[Finding], report_url: str) -> str:
    """A public repository's check summary: how many findings of each severity and the link
    to the report (which needs an account), never the vulnerabilities themselves."""
    severities = sorted({f.severity for f in findings}, key=lambda s: -s.rank)
    counts = ", ".join(
        f"{sum(1 for f in findings if f.severity == s)} {s.value}" for s in severities
    )
    return (
        f"{counts or 'no findings'}. This repository is public: the details are in the "
        f"report, which needs an account: {report_url}"
    )
