"""The product's worker in the test's process: ``worker_settings`` as ``auditbot worker``
uses them (its functions under the retry policy, its start-up and shut-down), in burst mode.
Jobs are enqueued by name, as the web process enqueues them, and run as arq runs them."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.jobs.runner import AuditWorker
from bot.jobs.worker import worker_settings


async def run_queued_jobs(settings: Settings, **overrides: Any) -> None:
    """Run every job queued on ``settings.redis_url``, the retries the jobs defer too, and
    return once the queue is empty. No cron jobs: the test says what runs."""
    options = {
        **worker_settings(settings),
        "cron_jobs": [],
        "burst": True,
        "poll_delay": 0.05,
        "handle_signals": False,
        **overrides,
    }
    on_shutdown = options["on_shutdown"]
    worker = AuditWorker(**options)
    try:
        await worker.async_run()
    finally:
        # What Worker.close does, without redis-py's deprecated close().
        if worker._pool is not None:
            await on_shutdown(worker.ctx)
            await worker.pool.aclose()
