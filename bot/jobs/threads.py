"""`reply_in_thread`: a person answered in a review thread; ``bot.jobs.conversation.threads``
decides whether and how auditbot answers."""

from __future__ import annotations

import logging
from typing import Any

from bot.forges.pull_requests import PullRequestForge
from bot.jobs.contracts import ThreadReply
from bot.jobs.conversation.threads import answer_reply
from bot.jobs.deps import JobDeps
from bot.jobs.forge_jobs import with_forge

log = logging.getLogger(__name__)


async def reply_in_thread(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = ThreadReply.model_validate(payload)

    async def work(deps: JobDeps, forge: PullRequestForge) -> str:
        outcome = await answer_reply(deps, forge, job)
        log.info("reply %s in thread %s: %s", job.comment_id, job.thread, outcome)
        return outcome

    return await with_forge(ctx, job.repository, job.delivery_id, work)
