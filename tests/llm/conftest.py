"""Fixtures for the LLM service tests: fast retry settings, a real Redis client, fakes."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

import pytest
from redis.asyncio import Redis

from bot.config import Settings

# Small but real: retries and timeouts in milliseconds, so every fault test ends fast.
FAST = {
    "LLM_TIMEOUT_S": "0.5",
    "LLM_MAX_RETRIES": "2",
    "LLM_BACKOFF_BASE_S": "0.01",
    "LLM_RETRY_BUDGET_S": "10",
    "LLM_BREAKER_FAILURES": "50",
    "LLM_BREAKER_COOLDOWN_S": "0.5",
}


@pytest.fixture
def llm_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def factory(**env: str) -> Settings:
        return make_settings(**{**FAST, **env})

    return factory


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@contextmanager
def tcp_reset_server() -> Iterator[str]:
    """A listener that resets every connection at once (RST, not FIN): what a client sees
    when a load balancer drops it or the server crashed."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
