"""Live task progress at `/ws/tasks/{id}`: the Redis pub/sub channel `auditbot:task:{id}`
relayed to the browser. Authenticated like the API (a Bearer header, or ``?access_token=``
since browsers cannot set headers on a WebSocket) or, for auditbot's own pages, by the
session cookie when the browser says the socket was opened by a page of this site (a
WebSocket is not bound by CORS, so another site's page could otherwise open one with the
visitor's cookie); another project's task looks absent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.signing import InvalidToken
from bot.store.models import AuditTask, User
from bot.web.api.access import bearer_token, can_see, user_from_token
from bot.web.pages.session import same_origin
from bot.web.pages.viewer import signed_in

log = logging.getLogger(__name__)

FINISHED = frozenset({"succeeded", "failed", "cancelled", "superseded"})
# Close codes in the application range, mirroring the HTTP answers.
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
STATUS_POLL_S = 10.0


def channel(task_id: str) -> str:
    """The pub/sub channel the worker publishes a task's JSON progress events on."""
    return f"auditbot:task:{task_id}"


async def task_progress(websocket: WebSocket) -> None:
    task_id = websocket.path_params["task_id"]
    state = websocket.app.state
    token = bearer_token(websocket) or websocket.query_params.get("access_token")
    async with state.sessions() as session:
        user = await _caller(websocket, session, token)
        if user is None:
            await websocket.close(CLOSE_UNAUTHORIZED, "log in first")
            return
        task = await session.get(AuditTask, task_id)
        if task is None or not await can_see(session, user, task.project_id):
            await websocket.close(CLOSE_NOT_FOUND, "no such task")
            return
        snapshot: dict[str, Any] = {"type": "snapshot", "task_id": task.id,
                                    "status": task.status, "progress": task.progress or {}}
    redis: Redis = state.redis
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel(task_id))
    # The worker keeps the last event for clients that connect mid-run.
    last = await redis.get(f"{channel(task_id)}:last")
    snapshot["last"] = _json_or_none(last)
    await websocket.accept()

    async def status_now() -> str | None:
        async with state.sessions() as session:
            current = await session.get(AuditTask, task_id)
            return current.status if current is not None else None

    try:
        # Subscribed before the snapshot is sent: no event can fall between the two.
        await websocket.send_json(snapshot)
        if snapshot["status"] in FINISHED:
            return
        await _relay(websocket, pubsub, status_now)
    except WebSocketDisconnect:
        pass
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        with contextlib.suppress(RuntimeError):
            await websocket.close()


async def _caller(websocket: WebSocket, session: Any, token: str | None) -> User | None:
    if token is not None:
        try:
            return await user_from_token(session, websocket.app.state.settings, token)
        except InvalidToken:
            return None
    if websocket.headers.get("origin") is None or not same_origin(websocket):
        return None
    viewer = await signed_in(websocket, session)
    return viewer.user if viewer is not None else None


async def _relay(
    websocket: WebSocket, pubsub: Any, status_now: Callable[[], Awaitable[str | None]]
) -> None:
    receiver = asyncio.create_task(_wait_for_close(websocket))
    checked = time.monotonic()
    try:
        while not receiver.done():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                # Progress events need not say the task ended; the database does.
                if time.monotonic() - checked > STATUS_POLL_S:
                    checked = time.monotonic()
                    status = await status_now()
                    if status is None or status in FINISHED:
                        await websocket.send_json({"type": "finished", "status": status})
                        return
                continue
            data = message["data"]
            text = data.decode() if isinstance(data, bytes) else str(data)
            try:
                event = json.loads(text)
            except ValueError:
                log.warning("ignoring a progress event that is not JSON")
                continue
            await websocket.send_text(text)
            if isinstance(event, dict) and event.get("status") in FINISHED:
                return
    finally:
        receiver.cancel()


async def _wait_for_close(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()


def _json_or_none(raw: bytes | str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def ws_routes() -> list[BaseRoute]:
    return [WebSocketRoute("/ws/tasks/{task_id}", task_progress)]
