"""The count-then-page query every list route runs, and LIKE patterns from user text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVarTuple

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.web.api.schemas import PageQuery

Columns = TypeVarTuple("Columns")


async def page_rows(
    session: AsyncSession, statement: Select[*Columns], query: PageQuery
) -> tuple[Sequence[Row[*Columns]], int]:
    """The rows of ``statement`` on the page ``query`` asks for, and how many it has in all.

    ``statement`` carries the route's filters and its order; the total counts the same
    filtered rows (without the order), so ``total`` and ``items`` never disagree on filters.
    """
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    total = await session.scalar(counted) or 0
    rows = await session.execute(statement.limit(query.limit).offset(query.offset))
    return rows.all(), total


def like_escaped(text: str) -> str:
    """``text`` with LIKE's wildcards escaped (use with ``escape="\\\\"``): a user's ``%`` or
    ``_`` must match itself, not any text."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
