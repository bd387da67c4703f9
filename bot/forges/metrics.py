"""Forge API errors for Prometheus: every answer of 400 or more from GitHub or GitLab, by
forge and status (a 403 of a secondary rate limit, a 404 of a deleted branch, a 502),
counted as it arrives, so an answer that a retry then overcame counts too."""

from __future__ import annotations

from prometheus_client import Counter

FORGE_ERRORS = Counter(
    "auditbot_forge_errors_total",
    "Forge API answers with an error status, by forge and status",
    ["forge", "status"],
)


def count_answer(forge: str, status: int) -> None:
    """Count one answer of ``forge``; successes and redirects are not counted."""
    if status >= 400:
        FORGE_ERRORS.labels(forge, str(status)).inc()
