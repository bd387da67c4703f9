"""Feedback read at the start of a review: a 👎 on one of our comments has no webhook, and a
"false positive" reply may have arrived while no worker ran. What people with write access
said dismisses the finding (a decision already made stands) and is acknowledged in the
thread; what anyone else said changes nothing."""

from __future__ import annotations

import logging

from bot.analysis.sanitize import sanitize_text
from bot.errors import AuditbotError, RetryLater
from bot.forges.base import ChangeTarget
from bot.forges.pull_requests import PullRequestForge
from bot.jobs.contracts import Repository
from bot.jobs.conversation.access import has_write_access
from bot.jobs.deps import JobDeps
from bot.store.triage import TriageSource, dismiss_from_forge

log = logging.getLogger(__name__)


async def apply_feedback(
    deps: JobDeps,
    forge: PullRequestForge,
    repository: Repository,
    project_id: int,
    target: ChangeTarget,
) -> list[str]:
    """Dismiss what people with write access marked; returns the fingerprints that changed."""
    async def accept(who: str) -> bool:
        return await has_write_access(
            deps.redis, forge.conversation, repository.forge, repository.id, who
        )

    try:
        marked = await forge.feedback(target, accept)
    except RetryLater:
        raise
    except AuditbotError as exc:
        log.warning("could not read feedback on our comments: %s", exc)
        return []
    keys = await dismiss_from_forge(deps.sessions, project_id, marked,
                                    TriageSource(repository.forge))
    for key in keys:
        body = (
            f"Marked as **false positive** by {sanitize_text(marked[key], limit=100)} (read at "
            "this run). auditbot will not report it again in this repository unless the code "
            "at this place changes."
        )
        try:
            await forge.conversation.reply_to_finding(target, key, body)
        except AuditbotError as exc:  # the dismissal stands; only the note is missing
            log.warning("could not acknowledge the dismissal of %s: %s", key[:12], exc)
    if keys:
        log.info("%d finding(s) marked false positive by feedback", len(keys))
    return keys
