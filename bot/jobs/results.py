"""What an audit's outcome writes on its task row: SHAs, counts by severity, tokens and
cost, the partial reason, and the skipped files the report lists."""

from __future__ import annotations

from typing import Any

from bot.analysis.pipeline import ReviewOutcome
from bot.findings import Severity


def outcome_fields(outcome: ReviewOutcome) -> dict[str, Any]:
    """Keyword arguments for ``audits.finish_task`` (status and conclusion are the caller's)."""
    stats = outcome.llm
    counts = dict.fromkeys((s.value for s in Severity), 0)
    for finding in outcome.open_findings:
        counts[finding.severity.value] += 1
    return {
        "base_sha": outcome.change.base_sha,
        "head_sha": outcome.change.head_sha,
        "findings_count": len(outcome.placed),
        "model": stats.model,
        "input_tokens": stats.input_tokens,
        "output_tokens": stats.output_tokens,
        "cached_tokens": stats.cached_tokens,
        "cost_usd": stats.cost_usd,
        "partial_reason": stats.partial_reason,
        "counts": counts,
        "progress": {
            "files": outcome.files_reviewed,
            "chunks": stats.chunks_total,
            "cache_hits": stats.cache_hits,
            "skipped": [{"path": p, "reason": r} for p, r in outcome.skipped],
        },
    }
