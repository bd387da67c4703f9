"""The reconciler (an arq cron job, every minute): no check run stays "in progress" forever.

A task still queued or running long after its time limit lost its worker in a way arq
could not recover (its job is gone from Redis): the task is failed and its check run
concluded with the reason. A task whose arq job still exists is left to arq, which
re-runs jobs of dead workers once their in-progress key expires. A task that ended while
the forge failed or refused its check update (a 502, Redis or the network away) has its
check run concluded from what its row records.

For GitHub it also asks for the App's recent webhook deliveries and has GitHub redeliver
each event whose deliveries all failed (our web process was down or answered 503), up to
three times, one a minute: GitHub itself never retries a failed delivery. For GitLab it
reports webhooks GitLab disabled (``gitlab_hooks.py``). For both, every ten minutes, it
queues reviews of open pull (merge) requests whose head no task reviewed (``catch_up.py``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.jobs import Job, JobStatus
from redis.asyncio import Redis

from bot.errors import AuditbotError, RetryLater
from bot.forges.github.app_hooks import AppHooks, Delivery
from bot.jobs import endings
from bot.jobs.catch_up import queue_missed_reviews
from bot.jobs.deps import JobDeps, deps_of
from bot.jobs.gitlab_hooks import check_gitlab_hooks
from bot.jobs.lifecycle import conclude_open_check, end_stored_task
from bot.store import audits

log = logging.getLogger(__name__)

GRACE_S = 120
# An ending whose check update is in flight is not the reconciler's yet.
OPEN_CHECK_GRACE_S = 30
# The time of the last look at the App's deliveries (epoch seconds).
DELIVERIES_CHECKED_KEY = "auditbot:github:deliveries-checked"
REDELIVERED_PREFIX = "auditbot:github:redelivered:"
FIRST_LOOK_BACK_S = 3600  # how far back the very first check looks
OVERLAP_S = 60  # deliveries GitHub records a little late are not missed
KEEP_S = 3 * 24 * 3600  # GitHub keeps deliveries for three days
REDELIVERY_TRIES = 3


async def reconcile(ctx: dict[str, Any]) -> int:
    """Conclude stale tasks; returns how many it concluded."""
    deps = deps_of(ctx)
    limit = deps.settings.job_timeout_s + GRACE_S
    stale = await audits.stale_tasks(deps.sessions, audits.now() - timedelta(seconds=limit))
    concluded = 0
    for task in stale:
        if task.job_id:
            status = await Job(task.job_id, deps.redis).status()
            if status in (JobStatus.queued, JobStatus.deferred, JobStatus.in_progress):
                continue
        try:
            await end_stored_task(deps, task, endings.stopped_without_finishing(limit))
        except AuditbotError as exc:  # the row has ended; the forge refused the update
            log.warning("could not conclude the check of task %s: %s", task.id, exc)
        concluded += 1
    if concluded:
        log.warning("reconciler concluded %d stale task(s)", concluded)
    concluded += await conclude_open_checks(deps)
    if deps.settings.gitlab_enabled:
        await check_gitlab_hooks(deps)
    await queue_missed_reviews(deps)  # GitHub's and GitLab's, each every ten minutes
    if deps.settings.github_enabled:
        try:
            await redeliver_failed(deps.redis, AppHooks.from_settings(deps.settings))
        except AuditbotError as exc:
            log.warning("could not check the app's webhook deliveries: %s", exc)
    return concluded


async def conclude_open_checks(deps: JobDeps) -> int:
    """Conclude the check runs of ended tasks that the forge never took; returns how many.
    One that fails again is tried at the next run; one the forge refuses for good (the run
    is gone, the app lost access) is marked so, with a warning."""
    ended_before = audits.now() - timedelta(seconds=OPEN_CHECK_GRACE_S)
    done = 0
    for task in await audits.tasks_with_open_checks(deps.sessions, ended_before):
        try:
            await conclude_open_check(deps, task)
        except (RetryLater, OSError) as exc:
            log.info("check of task %s still open, next run tries again: %s", task.id, exc)
            continue
        except AuditbotError as exc:
            log.warning("check of task %s cannot be concluded: %s", task.id, exc)
            await audits.update_task(deps.sessions, task.id, check_concluded_at=audits.now())
            continue
        done += 1
    if done:
        log.warning("reconciler concluded %d check run(s) left open", done)
    return done


async def redeliver_failed(redis: Redis, hooks: AppHooks) -> int:
    """Ask GitHub to redeliver each recent event none of whose deliveries succeeded, up to
    ``REDELIVERY_TRIES`` times per event (its guid); returns how many were asked for."""
    started = datetime.now(UTC)
    last = await redis.get(DELIVERIES_CHECKED_KEY)
    since = (
        datetime.fromtimestamp(float(last) - OVERLAP_S, UTC)
        if last is not None
        else started - timedelta(seconds=FIRST_LOOK_BACK_S)
    )
    newest_failed: dict[str, Delivery] = {}
    succeeded: set[str] = set()
    for delivery in await hooks.deliveries(since):  # newest first
        if not delivery.failed:
            succeeded.add(delivery.guid)
        elif delivery.guid not in newest_failed:
            newest_failed[delivery.guid] = delivery
    asked = 0
    for guid, delivery in newest_failed.items():
        if guid in succeeded:
            continue
        # At most REDELIVERY_TRIES per event, one per run, across workers and runs: a
        # redelivery during the same outage fails too; one that keeps failing is left for a
        # person to look at rather than retried forever.
        key = f"{REDELIVERED_PREFIX}{guid}"
        tries = int(await redis.incr(key))
        await redis.expire(key, KEEP_S)
        if tries > REDELIVERY_TRIES:
            continue
        await hooks.redeliver(delivery.id)
        asked += 1
        log.info("asked GitHub to redeliver %s %s (%s)", delivery.event, guid, delivery.id)
    await redis.set(DELIVERIES_CHECKED_KEY, repr(started.timestamp()), ex=KEEP_S)
    return asked
