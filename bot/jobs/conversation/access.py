"""Who may talk to auditbot, and how often.

- People with write access (GitHub: the collaborator permission admin, maintain or write;
  GitLab: Developer or more), checked through the forge's permission API, never from a
  comment's ``author_association`` alone. Their answers are cached a few minutes in Redis,
  so a busy thread costs one permission call per person, not one per reply.
- The pull request's author may ask and may argue in threads, but not dismiss.
- Bots, auditbot included, are never answered.
- Questions are rate limited per person (``CONVERSATION_PER_HOUR``), across repositories:
  one refusal is posted per hour, later ones are dropped silently.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from redis.asyncio import Redis

from bot.analysis.sanitize import sanitize_text
from bot.forges.conversation import Conversation
from bot.jobs.contracts import PullRequestComment

PERMISSION_TTL_S = 300
WINDOW_S = 3600
_PREFIX = "auditbot:conversation"


class Standing(Enum):
    """What a person may do here: decide (dismiss, reopen), talk (ask, argue), nothing."""

    WRITER = "writer"
    AUTHOR = "author"
    OTHER = "other"
    BOT = "bot"

    @property
    def may_talk(self) -> bool:
        return self in (Standing.WRITER, Standing.AUTHOR)

    @property
    def may_decide(self) -> bool:
        return self is Standing.WRITER


async def standing(redis: Redis, forge: Conversation, comment: PullRequestComment) -> Standing:
    """The standing on its pull request of the person who wrote ``comment``."""
    repo = comment.repository
    login = comment.author
    pr_author = comment.pr_author or await forge.pull_author(comment.number)
    if login.endswith("[bot]") or await forge.is_self(login, comment.author_id):
        return Standing.BOT
    if await has_write_access(redis, forge, repo.forge, repo.id, login):
        return Standing.WRITER
    if pr_author is not None and login.lower() == pr_author.lower():
        return Standing.AUTHOR
    return Standing.OTHER


async def has_write_access(
    redis: Redis, forge: Conversation, forge_name: str, repository_id: int, login: str
) -> bool:
    key = f"{_PREFIX}:write:{forge_name}:{repository_id}:{login.lower()}"
    cached = await redis.get(key)
    if cached is not None:
        return bool(cached == b"1")
    allowed = bool(await forge.can_trigger(login))
    await redis.set(key, b"1" if allowed else b"0", ex=PERMISSION_TTL_S)
    return allowed


@dataclass(frozen=True)
class Allowance:
    allowed: bool
    # Over the limit for the first time in this window: say so once, then stay silent.
    tell: bool = False
    retry_after_s: int = 0


async def take_question(
    redis: Redis, *, forge_name: str, login: str, per_hour: int, now: float | None = None
) -> Allowance:
    """Count one question (or answer in a thread) of ``login`` against the hourly limit."""
    if per_hour <= 0:
        return Allowance(True)
    moment = time.time() if now is None else now
    window = int(moment // WINDOW_S)
    key = f"{_PREFIX}:asked:{forge_name}:{login.lower()}:{window}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, WINDOW_S + 60)
        count, _ = await pipe.execute()
    if int(count) <= per_hour:
        return Allowance(True)
    retry_after = int((window + 1) * WINDOW_S - moment) + 1
    return Allowance(False, tell=int(count) == per_hour + 1, retry_after_s=retry_after)


async def may_ask(
    redis: Redis,
    *,
    forge_name: str,
    login: str,
    per_hour: int,
    say: Callable[[str], Awaitable[Any]],
) -> bool:
    """Count one question; over the limit, ``say`` the first refusal of the hour."""
    allowance = await take_question(redis, forge_name=forge_name, login=login,
                                    per_hour=per_hour)
    if not allowance.allowed and allowance.tell:
        minutes = max(1, allowance.retry_after_s // 60)
        await say(
            f"{sanitize_text(login, limit=100)}, you have reached this server's limit of "
            f"questions per hour; auditbot will answer again in about {minutes} minute(s). "
            "Later questions in this hour get no answer."
        )
    return allowance.allowed
