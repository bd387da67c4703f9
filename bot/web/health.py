"""`/healthz` (the process answers) and `/readyz` (its database and Redis answer)."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.store.db import ping

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    checks = {
        "database": await _check(ping(state.engine)),
        "redis": await _check(state.redis.ping()),
    }
    down = [name for name, result in checks.items() if result != "ok"]
    body: dict[str, object] = {"status": "ready" if not down else "unavailable", **checks}
    if down:
        body["down"] = down
        log.warning("not ready: %s", ", ".join(f"{n} ({checks[n]})" for n in down))
    return JSONResponse(body, status_code=503 if down else 200)


async def _check(awaitable: object) -> str:
    try:
        await asyncio.wait_for(awaitable, CHECK_TIMEOUT_S)  # type: ignore[arg-type]
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the reason is the answer
        return f"down: {type(exc).__name__}: {exc}"[:200]
    return "ok"
