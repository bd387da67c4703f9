"""Progress of a running audit: published on Redis for the WebSocket, drawn as a bar on a
terminal, or written as plain lines when stderr is not a terminal (CI logs)."""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import logging
import time
from typing import TYPE_CHECKING, Any, TextIO

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.forges.base import CheckUpdate, Publisher

if TYPE_CHECKING:  # imported by the lifecycle, which the web process uses too
    from bot.analysis.pipeline import ProgressFn

STAGES = {
    "fetched": "fetched the change",
    "prepared": "filtered and parsed",
    "static": "offline analyzers done",
    "llm": "model",
    "analysed": "findings placed",
    "published": "published",
}

log = logging.getLogger(__name__)


def channel(task_id: str) -> str:
    return f"auditbot:task:{task_id}"


class TerminalProgress:
    """A one-line bar on a terminal; one line per stage elsewhere."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._drawn = False
        self._started = time.monotonic()

    async def __call__(self, event: dict[str, Any]) -> None:
        stage = str(event.get("stage", ""))
        elapsed = time.monotonic() - self._started
        if stage == "llm":
            done, total = int(event.get("chunks_done", 0)), int(event.get("chunks_total", 0))
            width = 30
            filled = width * done // max(total, 1)
            line = f"model [{'#' * filled}{'.' * (width - filled)}] {done}/{total} chunks"
            if self.tty:
                self.stream.write(f"\r{line} {elapsed:5.1f}s")
                self._drawn = True
            elif done == total or done % 10 == 0:
                self.stream.write(f"auditbot: {line}\n")
            self.stream.flush()
            return
        details = " ".join(f"{k}={v}" for k, v in event.items() if k != "stage")
        text = f"auditbot: {STAGES.get(stage, stage)} {details}".rstrip()
        if self.tty and self._drawn:
            self.stream.write("\n")
            self._drawn = False
        self.stream.write(f"{text} ({elapsed:.1f}s)\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class RedisProgress:
    """Publishes each event as JSON on the task's channel (the API relays it on a WebSocket)
    and keeps the last one for clients that connect late."""

    def __init__(self, redis: Redis, task_id: str) -> None:
        self.redis = redis
        self.task_id = task_id

    async def __call__(self, event: dict[str, Any]) -> None:
        payload = json.dumps({"task_id": self.task_id, **event}, default=str)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.publish(channel(self.task_id), payload)
                pipe.set(f"{channel(self.task_id)}:last", payload, ex=24 * 3600)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # A live view is not worth an audit: Redis away for a moment loses a line.
            log.info("progress of task %s not published: %s", self.task_id, exc)


@dataclasses.dataclass
class CheckProgress:
    """Keeps the check run's "in progress" line current, at most once per ``every_s``;
    never after ``running()`` says the task ended (another run of its job concluded the
    check, or a newer push did: "in progress" must not overwrite a conclusion)."""

    forge: Publisher
    check_id: str
    details_url: str
    every_s: float = 10.0
    running: collections.abc.Callable[[], collections.abc.Awaitable[bool]] | None = (
        dataclasses.field(default=None, kw_only=True)
    )
    _last: float = dataclasses.field(default=0.0, init=False)

    async def __call__(self, event: dict[str, Any]) -> None:
        stage = str(event.get("stage", ""))
        now = time.monotonic()
        if stage != "llm" or now - self._last < self.every_s:
            return
        self._last = now
        if self.running is not None and not await self.running():
            return
        done, total = int(event.get("chunks_done", 0)), int(event.get("chunks_total", 0))
        line = f"Analysed {done} of {total} parts of the change"
        await self.forge.update_check(
            self.check_id,
            CheckUpdate(
                status="in_progress", title=line, summary=line, details_url=self.details_url
            ),
        )


class Fanout:
    """Several progress sinks as one."""

    def __init__(self, *sinks: ProgressFn) -> None:
        self.sinks = sinks

    async def __call__(self, event: dict[str, Any]) -> None:
        for sink in self.sinks:
            await sink(event)
