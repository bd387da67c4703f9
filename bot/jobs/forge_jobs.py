"""The frame of a short job that talks to one repository's forge (a reply in a thread, a
code scanning alert): the forge opened and closed around the work, the delivery id on every
log line. "Try later" is the retry policy's (bot/jobs/retry.py wraps every job)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.forges.pull_requests import PullRequestForge
from bot.jobs.contracts import Repository
from bot.jobs.deps import JobDeps, deps_of
from bot.logs import bind


async def with_forge(
    ctx: dict[str, Any],
    repository: Repository,
    delivery_id: str,
    work: Callable[[JobDeps, PullRequestForge], Awaitable[str]],
) -> str:
    deps = deps_of(ctx)
    with bind(delivery_id=delivery_id):
        forge = await deps.forges(repository)
        try:
            return await work(deps, forge)
        finally:
            await forge.close()
