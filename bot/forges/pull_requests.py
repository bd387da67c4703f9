"""What a forge with pull (merge) requests offers the jobs beyond reading and publishing:
GitHub and GitLab implement all of it, so the jobs never probe an adapter for a feature.

A feature only one forge has is a part that may be None (``code_scanning``: GitHub's
Security tab); the conversation in review threads is a part both have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.forges.base import ChangeTarget, Forge, OpenPull
from bot.forges.code_scanning import CodeScanning
from bot.forges.conversation import Conversation
from bot.forges.feedback import Accept


class PullRequestForge(Forge, Protocol):
    """A forge adapter bound to one repository with pull (merge) requests."""

    @property
    def conversation(self) -> Conversation:
        """Review threads, answers and who may ask (``/audit ask``, replies)."""
        ...

    @property
    def code_scanning(self) -> CodeScanning | None:
        """Uploading analyses and following alerts; None where the forge has none."""
        ...

    async def resolve_findings(self, target: ChangeTarget, keys: Sequence[str]) -> int:
        """Resolve the threads of our comments on these (fixed) findings; returns how many
        were resolved."""
        ...

    async def feedback(self, target: ChangeTarget, accept: Accept | None = None) -> dict[str, str]:
        """Findings people marked false positive: {finding key: who}, from a reply whose
        first line says so or a 👎 on our comment; with ``accept``, only people it accepts."""
        ...

    async def post_comment(self, target: ChangeTarget, body: str) -> str:
        """A plain comment (note) on the pull (merge) request; returns its id."""
        ...

    async def can_trigger(self, username: str) -> bool:
        """Whether ``username`` may run commands (write access; GitLab: Developer or more)."""
        ...

    async def version_base(self, number: int) -> str | None:
        """The base commit of the change as the forge computed it, for an event that did
        not name it (GitLab's merge request hook); None when events always name it."""
        ...

    async def open_pulls(self, limit: int = 100) -> list[OpenPull]:
        """Open pull (merge) requests, most recently created first (at most ``limit``): the
        reconciler's catch-up reviews heads whose event never reached a worker."""
        ...
