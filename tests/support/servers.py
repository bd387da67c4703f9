"""Run an ASGI app (a fake GitHub, GitLab or LLM provider, or our own app) with uvicorn on
127.0.0.1 in a background thread, on a free port, for the duration of a test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: Any, *, port: int | None = None, lifespan: str = "auto", shutdown_s: float = 1.0
) -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:PORT``) while ``app`` serves on it.

    On exit, requests still in flight (a fake provider told to hang, a client the test
    abandoned) get ``shutdown_s`` to finish before uvicorn cancels them: the test is over,
    and waiting out a fake's 30 s hang made the slowest tests slow."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan,
        access_log=False, timeout_graceful_shutdown=shutdown_s,
    )  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"test server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
