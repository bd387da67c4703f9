"""Forge API errors for Prometheus: every answer of 400 or more from GitHub or GitLab, by
forge and status (a 403 of a secondary rate limit, a 404 of a deleted branch, a 502), and
every request that got no answer at all (the connection refused or reset, a timeout) as
status ``no_answer``; each counted as it happens, so a failure that a retry then overcame
counts too."""

from __future__ import annotations

from prometheus_client import Counter

FORGE_ERRORS = Counter(
    "auditbot_forge_errors_total",
    "Forge API requests that failed: answers with an error status, or no_answer, by forge",
    ["forge", "status"],
)
# The status label of a request that got no answer.
NO_ANSWER = "no_answer"


def count_answer(forge: str, status: int) -> None:
    """Count one answer of ``forge``; successes and redirects are not counted."""
    if status >= 400:
        FORGE_ERRORS.labels(forge, str(status)).inc()


def count_no_answer(forge: str) -> None:
    """Count one request to ``forge`` that got no answer, or only part of one: refused,
    reset, timed out."""
    FORGE_ERRORS.labels(forge, NO_ANSWER).inc()
