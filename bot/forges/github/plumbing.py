"""What the mixins of :class:`bot.forges.github.forge.GitHubForge` (feedback, conversation,
code scanning) use of its plumbing, declared once for the type checker; the forge defines
them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class GitHubPlumbing:
    owner: str
    repo: str
    _gh: Any
    _bot_login: str | None

    async def _call(self, make: Callable[[], Awaitable[T]], *, what: str) -> T:
        raise NotImplementedError

    async def _pages(
        self, fetch: Callable[[int], Awaitable[Any]], *, what: str, max_items: int
    ) -> list[Any]:
        raise NotImplementedError

    def _ours(self, user: Any) -> bool:
        raise NotImplementedError
