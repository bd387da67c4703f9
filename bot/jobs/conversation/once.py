"""An answer to a comment is posted once, however many runs its job has.

A job can run more than once: arq retries it after a failure that came after the answer
was posted (a 502 that lost GitHub's response to the POST), runs it again after its worker
was killed before arq recorded the end, or, when a worker lost its lease while it lived
(its event loop blocked, Redis out of reach; ``bot.jobs.runner``), runs it beside the first
run. Every answer carries a hidden marker naming the comment answered
(``bot.forges.conversation.answer_marker``), and the forge is the authority on whether it
was posted (a run may die between posting and recording anything). Looking for the marker
and posting happen under one leased lock per answered comment, so two runs at once cannot
both look before either posts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from bot.forges.base import ChangeTarget
from bot.forges.conversation import Conversation, answer_marker
from bot.forges.locks import leased_lock
from bot.jobs.contracts import PullRequestComment

# A run waits this long for the other run's post (then RetryLater: it looks again later).
ANSWER_LOCK_WAIT_S = 60.0


def answer_lock_key(comment: PullRequestComment) -> str:
    repo = comment.repository
    return f"auditbot:lock:answer:{repo.forge}:{repo.id}:{comment.comment_id}"


@asynccontextmanager
async def answering(redis: Redis, comment: PullRequestComment) -> AsyncIterator[str]:
    """Hold the answer lock of ``comment`` for the block; yields the answer's marker."""
    async with leased_lock(redis, answer_lock_key(comment), wait_s=ANSWER_LOCK_WAIT_S):
        yield answer_marker(comment.comment_id)


async def post_answer(
    redis: Redis, talk: Conversation, comment: PullRequestComment, text: str
) -> bool:
    """Post ``text`` on the pull request as the answer to ``comment`` unless it is there;
    True when it was posted now."""
    async with answering(redis, comment) as marker:
        target = ChangeTarget(number=comment.number)
        return await talk.post_once(target, marker, f"{marker}\n{text}")


async def reply_once(
    redis: Redis, talk: Conversation, comment: PullRequestComment, thread: str, text: str
) -> bool:
    """Answer ``comment`` with ``text`` in review thread ``thread`` unless the thread holds
    the answer (read again under the lock); True when it was posted now."""
    target = ChangeTarget(number=comment.number)
    async with answering(redis, comment) as marker:
        found = await talk.finding_thread(target, thread)
        if found is not None and any(r.ours and marker in r.body for r in found.replies):
            return False
        await talk.reply_in_thread(target, thread, f"{marker}\n{text}")
        return True
