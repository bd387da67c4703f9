"""`reply_in_thread`: a person answered in a review thread; ``bot.conversation.threads``
decides whether and how auditbot answers. A forge that asks to be retried later
(RetryLater: a rate limit, GitHub unreachable) puts the job back on the queue."""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry

from bot.conversation.threads import answer_reply
from bot.errors import RetryLater
from bot.jobs.contracts import ThreadReply
from bot.jobs.deps import deps_of
from bot.logs import bind

log = logging.getLogger(__name__)

MAX_TRIES = 5


async def reply_in_thread(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = ThreadReply.model_validate(payload)
    deps = deps_of(ctx)
    with bind(delivery_id=job.delivery_id):
        forge = await deps.forges(job.repository)
        try:
            outcome = await answer_reply(deps, forge, job)
        except RetryLater as exc:
            if int(ctx.get("job_try") or 1) < MAX_TRIES:
                raise Retry(defer=exc.retry_after) from exc
            raise
        finally:
            await forge.close()
        log.info("reply %s in thread %s: %s", job.comment_id, job.thread, outcome)
        return outcome
