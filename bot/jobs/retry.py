"""The one retry policy of every arq function: ``jobs/worker.py`` wraps each with
:func:`retry_policy`.

"Try later" is an exception that carries its wait (``RetryLater``: a forge's rate limit, a
publish lock another worker holds, a forge that has not computed a diff yet); an error of
the machine's own plumbing (``TRANSIENT``: the network, a database connection) is tried
again after an exponential backoff. Either becomes arq's ``Retry(defer=...)`` while tries
remain. ``MAX_TRIES`` is also the worker's ``max_tries``: beyond it arq fails a job without
calling the function, so the last try gives up here, honestly: the task's check run says
why and the task ends failed (:func:`bot.jobs.lifecycle.end_stored_task`). An error that
retrying cannot fix (a forge's refusal, a bug) ends the task the same way at once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from arq import Retry
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import AuditbotError, RetryLater
from bot.jobs import endings
from bot.jobs.deps import deps_of
from bot.jobs.lifecycle import conclude_open_check, end_stored_task
from bot.store import audits

log = logging.getLogger(__name__)

MAX_TRIES = 5
# Errors of our own plumbing that another try may not meet (the network, Redis away for a
# moment); a forge's or model's error arrives as an AuditbotError (RetryLater when waiting
# helps).
TRANSIENT: tuple[type[BaseException], ...] = (OSError, RedisConnectionError, RedisTimeoutError)
BACKOFF_S = 2.0

R = TypeVar("R")
JobFunction = Callable[..., Awaitable[R]]


def retry_policy(function: JobFunction[R]) -> JobFunction[R | str]:
    """``function`` with the retry policy; arq sees the same name."""

    @functools.wraps(function)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> R | str:
        job_try = int(ctx.get("job_try") or 1)
        cause: BaseException
        try:
            return await function(ctx, *args, **kwargs)
        except RetryLater as exc:
            defer, reason, cause = exc.retry_after, str(exc), exc
        except TRANSIENT as exc:
            defer, reason, cause = BACKOFF_S**job_try, f"{type(exc).__name__}: {exc}", exc
        except AuditbotError as exc:
            await give_up(ctx, str(exc))
            return "failed"
        except Exception as exc:
            # A bug: the check run must not stay "in progress"; the traceback goes to arq.
            await give_up(ctx, f"internal error ({type(exc).__name__}); see the worker's log")
            raise
        if job_try < MAX_TRIES:
            log.info("try %d of %d: %s; again in %.0f s", job_try, MAX_TRIES, reason, defer)
            raise Retry(defer=defer) from cause
        await give_up(ctx, f"{reason} (gave up after {job_try} tries)")
        return "failed"

    return run


async def give_up(ctx: dict[str, Any], reason: str) -> None:
    """End the job's task as failed, with ``reason`` on its check run, unless the task
    already ended (a job without a task, such as an installation sync, only logs)."""
    log.error("job %s failed: %s", ctx.get("job_id"), reason)
    job_id = ctx.get("job_id")
    if not job_id:
        return
    try:
        deps = deps_of(ctx)
        task = await audits.find_task_by_job(deps.sessions, str(job_id))
        if task is None:
            return
        if task.status in audits.FINAL_STATUSES:
            # The task ended but the forge may not have taken its check's conclusion.
            await conclude_open_check(deps, task)
            return
        noun = "Audit" if task.kind == "review" else "Scan"
        await end_stored_task(deps, task, endings.failed(noun, reason))
    except Exception as exc:  # noqa: BLE001 - never hide the job's own error behind this one
        log.error("could not record the failure of job %s: %s", job_id, exc)
