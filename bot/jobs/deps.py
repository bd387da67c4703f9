"""What every job needs, built once per worker in ``on_startup`` and kept in arq's ctx."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.forges.base import Forge
from bot.jobs.contracts import Repository

ForgeFactory = Callable[[Repository], Awaitable[Forge]]


@dataclass
class JobDeps:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    forges: ForgeFactory
    llm: Any | None  # bot.llm.service.LLMService, or None for offline analyzers only


def deps_of(ctx: dict[str, Any]) -> JobDeps:
    deps = ctx["deps"]
    assert isinstance(deps, JobDeps)
    return deps
