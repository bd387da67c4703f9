"""The webhook endpoint behind a real uvicorn socket: a sender streaming more than 25 MB is
answered 413 without the server reading it all, and a normal delivery still gets its 202."""

from __future__ import annotations

import select
import socket
from pathlib import Path

import httpx

from bot.web.main import build_app
from tests.events.payloads import github_payload
from tests.events.webhook_client import (
    WEBHOOK_ENV,
    QueueView,
    SettingsFactory,
    encode,
    github_headers,
)
from tests.support.servers import serve_in_thread

LIMIT = 25 * 1024 * 1024


def test_over_a_real_socket(make_settings: SettingsFactory, redis_url: str, tmp_path: Path) -> None:
    app = build_app(make_settings(REDIS_URL=redis_url, **WEBHOOK_ENV))
    view = QueueView(redis_url)
    try:
        with serve_in_thread(app) as base_url:
            body = encode(github_payload("pull_request.opened"))
            ok = httpx.post(
                f"{base_url}/webhooks/github",
                content=body,
                headers=github_headers("pull_request", body),
                timeout=10,
            )
            assert ok.status_code == 202
            assert len(view.job_ids()) == 1

            status = _chunked_upload(base_url, github_headers("pull_request", b""))
            assert status == 413
            assert len(view.job_ids()) == 1
    finally:
        view.close()


def _chunked_upload(base_url: str, headers: dict[str, str]) -> int:
    """Send up to 100 MB chunked (no Content-Length to refuse it by), stop as soon as the
    server answers, and return the answer's status; the server must answer before the end."""
    host, port = base_url.removeprefix("http://").split(":")
    lines = ["POST /webhooks/github HTTP/1.1", f"Host: {host}", "Transfer-Encoding: chunked"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    chunk = b" " * (1024 * 1024)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sent = 0
        while sent < 100 and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(framed)
            except OSError:
                break  # the server stopped taking the upload: read what it said
            sent += 1
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert sent < 100 and answer, f"no answer after {sent} MB"
    return int(answer.split(b" ", 2)[1])
