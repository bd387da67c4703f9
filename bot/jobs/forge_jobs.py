"""The frame of a short job that talks to one repository's forge (a reply in a thread, a
code scanning alert): the forge opened and closed around the work, the delivery id on every
log line, and "try later" (RetryLater: a rate limit, the forge unreachable) turned into
arq's Retry while tries remain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry

from bot.errors import RetryLater
from bot.jobs.contracts import Repository
from bot.jobs.deps import JobDeps, deps_of
from bot.logs import bind

MAX_TRIES = 5


async def with_forge(
    ctx: dict[str, Any],
    repository: Repository,
    delivery_id: str,
    work: Callable[[JobDeps, Any], Awaitable[str]],
) -> str:
    deps = deps_of(ctx)
    with bind(delivery_id=delivery_id):
        forge = await deps.forges(repository)
        try:
            return await work(deps, forge)
        except RetryLater as exc:
            if int(ctx.get("job_try") or 1) < MAX_TRIES:
                raise Retry(defer=exc.retry_after) from exc
            raise
        finally:
            await forge.close()
