"""Finding the review comments a forge refuses when it only says "something is wrong".

GitHub answers 422 for a whole review when any comment's line cannot be placed, without
naming the comment. :func:`split_rejected` asks a probe (for GitHub: create a *pending*
review, which nobody else sees, then delete it) about halves of the list until each
refused comment is isolated; nothing is ever published by a probe.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def split_rejected(
    items: Sequence[T], accepts: Callable[[Sequence[T]], Awaitable[bool]], *, max_probes: int
) -> tuple[list[T], list[T]]:
    """``(accepted, rejected)``; items never probed when the budget runs out are rejected.

    With k bad items among n, about 2·k·log2(n) probes are needed.
    """
    accepted: list[T] = []
    rejected: list[T] = []
    budget = [max_probes]

    async def visit(group: Sequence[T], known_bad: bool) -> bool:
        """True when the whole group was accepted."""
        if not group:
            return True
        if not known_bad:
            if budget[0] <= 0:
                rejected.extend(group)
                return False
            budget[0] -= 1
            if await accepts(group):
                accepted.extend(group)
                return True
        if len(group) == 1:
            rejected.extend(group)
            return False
        middle = len(group) // 2
        left_ok = await visit(group[:middle], False)
        # A group known to be refused whose left half passed has its fault on the right:
        # that half needs no probe of its own.
        await visit(group[middle:], left_ok)
        return False

    await visit(items, True)
    order = {id(item): index for index, item in enumerate(items)}
    accepted.sort(key=lambda item: order[id(item)])
    rejected.sort(key=lambda item: order[id(item)])
    return accepted, rejected
