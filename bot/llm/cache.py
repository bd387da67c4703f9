"""The answer cache: key = provider, model, prompt version and a hash of the exact messages
and output settings. Redis when the service has it (shared by every worker), files under
DATA_DIR otherwise (the local `auditbot review`). Only validated answers are stored."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.llm.types import Usage

log = logging.getLogger(__name__)

PREFIX = "auditbot:llm:cache:"


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    usage: Usage  # what the original call used; a hit itself costs nothing
    model: str
    repairs: tuple[str, ...] = ()

    def dumps(self) -> str:
        return json.dumps(
            {
                "text": self.text,
                "usage": [self.usage.input_tokens, self.usage.output_tokens,
                          self.usage.cached_tokens, self.usage.cache_write_tokens],
                "model": self.model,
                "repairs": list(self.repairs),
            }
        )

    @classmethod
    def loads(cls, raw: str | bytes) -> CachedAnswer:
        data: dict[str, Any] = json.loads(raw)
        return cls(data["text"], Usage(*data["usage"]), data["model"], tuple(data["repairs"]))


def cache_key(
    provider: str,
    model: str,
    prompt_version: str,
    system: str,
    user: str,
    schema: dict[str, Any] | None,
    temperature: float,
    max_output_tokens: int,
) -> str:
    digest = hashlib.sha256()
    for part in (
        system, user, json.dumps(schema, sort_keys=True), repr(temperature),
        str(max_output_tokens),
    ):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return f"{provider}:{model}:{prompt_version}:{digest.hexdigest()}"


class ResponseCache(Protocol):
    async def get(self, key: str) -> CachedAnswer | None: ...

    async def put(self, key: str, answer: CachedAnswer, ttl_s: int) -> None: ...


class RedisCache:
    """A cache failure is never a task failure: it is logged and the call goes to the model."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get(self, key: str) -> CachedAnswer | None:
        try:
            raw = await self._redis.get(PREFIX + key)
        except RedisError as exc:
            log.warning("LLM cache read failed: %s", exc)
            return None
        return _decode(raw, key)

    async def put(self, key: str, answer: CachedAnswer, ttl_s: int) -> None:
        if ttl_s <= 0:
            return
        try:
            await self._redis.set(PREFIX + key, answer.dumps(), ex=ttl_s)
        except RedisError as exc:
            log.warning("LLM cache write failed: %s", exc)


class DiskCache:
    """One JSON file per key; the expiry time is the first line. Writes are atomic renames,
    so two local runs sharing DATA_DIR never read half a file."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self._directory / digest[:2] / f"{digest}.json"

    async def get(self, key: str) -> CachedAnswer | None:
        return await asyncio.to_thread(self._read, key)

    async def put(self, key: str, answer: CachedAnswer, ttl_s: int) -> None:
        if ttl_s > 0:
            await asyncio.to_thread(self._write, key, answer, ttl_s)

    def _read(self, key: str) -> CachedAnswer | None:
        path = self._path(key)
        try:
            expires, _, body = path.read_text("utf-8").partition("\n")
        except OSError:
            return None
        if float(expires or 0) < time.time():
            path.unlink(missing_ok=True)
            return None
        return _decode(body, key)

    def _write(self, key: str, answer: CachedAnswer, ttl_s: int) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"{time.time() + ttl_s}\n{answer.dumps()}")
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("LLM disk cache write failed: %s", exc)


def _decode(raw: str | bytes | None, key: str) -> CachedAnswer | None:
    if raw is None:
        return None
    try:
        return CachedAnswer.loads(raw)
    except (ValueError, KeyError, TypeError):
        log.warning("dropping unreadable LLM cache entry %s", key[:60])
        return None
