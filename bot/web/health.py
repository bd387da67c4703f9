"""`/healthz` (the process answers) and `/readyz` (the database answers with a schema this
code can use, and Redis answers): 503 with the reason when not ready. `/readyz` also names
GitLab webhooks that GitLab disabled (``gitlab_hooks``), without answering 503 for them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.jobs.contracts import GITLAB_DISABLED_HOOKS_KEY
from bot.preflight import database_problem, redis_problem
from bot.store.schema import SchemaStatus, schema_status

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0
T = TypeVar("T")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    settings = state.settings
    schema: SchemaStatus | None = None
    try:
        schema = await _within(schema_status(state.engine))
        database = "ok" if schema.usable else schema.describe()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the reason is the answer
        known = database_problem(exc, settings.database_url, timeout_s=CHECK_TIMEOUT_S)
        database = _reason(exc, str(known) if known else None)
    try:
        await _within(state.redis.ping())
        redis = "ok"
    except Exception as exc:  # noqa: BLE001
        known = redis_problem(exc, settings.redis_url, timeout_s=CHECK_TIMEOUT_S)
        redis = _reason(exc, str(known) if known else None)
    checks = {"database": database, "redis": redis}
    down = [name for name, result in checks.items() if result != "ok"]
    body: dict[str, object] = {"status": "ready" if not down else "unavailable", **checks}
    if redis == "ok":
        # Named, not 503: this process serves webhooks fine; a 503 would take it out of
        # the load balancer and lose the deliveries that still arrive.
        hooks = await _within(state.redis.hgetall(GITLAB_DISABLED_HOOKS_KEY))
        body["gitlab_hooks"] = "ok" if not hooks else "disabled: " + "; ".join(
            f"{_text(path)} ({_text(why)})" for path, why in sorted(hooks.items()))
    if schema is not None:
        body["schema"] = {"state": schema.state, "revision": schema.revision,
                          "required": schema.required}
    if down:
        body["down"] = down
        log.warning("not ready: %s", ", ".join(f"{n} ({checks[n]})" for n in down))
    return JSONResponse(body, status_code=503 if down else 200)


async def _within(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, CHECK_TIMEOUT_S)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _reason(exc: Exception, known: str | None) -> str:
    if known is not None:
        return f"down: {known}"
    if isinstance(exc, TimeoutError):
        return f"down: no answer within {CHECK_TIMEOUT_S:g} s"
    return f"down: {type(exc).__name__}: {exc}"[:200]
