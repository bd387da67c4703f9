"""Conversation in a pull request, forge-neutral: the plain data of a review thread and the
calls the conversation jobs need from an adapter (GitHub and GitLab implement them).

A thread is auditbot's when its first comment was posted by auditbot and carries the hidden
finding marker (``bot/forges/base.py``); its key is the finding's fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.forges.base import ChangeTarget

ANSWER_MARKER_PREFIX = "<!-- auditbot:answer "  # followed by the comment answered and " -->"


def answer_marker(comment_id: int) -> str:
    """Marks our answer to comment ``comment_id``: a retried job finds it and posts nothing."""
    return f"{ANSWER_MARKER_PREFIX}{comment_id} -->"


@dataclass(frozen=True)
class ThreadNote:
    """One reply in a thread: who wrote it and what (untrusted text)."""

    author: str
    body: str
    ours: bool


@dataclass(frozen=True)
class FindingThread:
    """One of auditbot's review threads: the finding's key and where it sits, and the
    replies after our first comment, oldest first."""

    id: str  # GitHub: the first comment's id; GitLab: the discussion id
    key: str
    path: str | None
    line: int | None
    first_body: str
    replies: tuple[ThreadNote, ...] = ()
    commit: str | None = None  # the commit our comment was made on


@runtime_checkable
class Conversation(Protocol):
    """What `/audit ask` and the answers in review threads need of a forge adapter."""

    async def pull_author(self, number: int) -> str | None:
        """Who opened the pull (merge) request."""
        ...

    async def can_trigger(self, username: str) -> bool:
        """Whether ``username`` has write access (GitHub) / Developer or more (GitLab)."""
        ...

    async def is_self(self, username: str, user_id: int | None) -> bool:
        """Whether the author is auditbot's own account (never answered)."""
        ...

    async def finding_thread(self, target: ChangeTarget, thread: str) -> FindingThread | None:
        """The thread ``thread`` when auditbot started it for a finding, else None."""
        ...

    async def reply_in_thread(self, target: ChangeTarget, thread: str, body: str) -> str:
        """Answer inside the thread; returns the new comment's id."""
        ...

    async def reply_to_finding(self, target: ChangeTarget, key: str, body: str) -> bool:
        """Answer in the thread of finding ``key``; False when there is no such thread."""
        ...

    async def post_once(self, target: ChangeTarget, marker: str, body: str) -> bool:
        """Post ``body`` (which carries ``marker``) unless a comment of ours already
        carries it; True when it was posted now."""
        ...
