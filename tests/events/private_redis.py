"""A private redis-server on a random loopback port, started and stopped by the test
(never the shared Redis the other tests use)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.servers import free_port


class PrivateRedis:
    def __init__(self, directory: Path, *options: str) -> None:
        self.port = free_port()
        self.directory = directory
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(self.directory),
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Ready is "answers a data command", not "accepts a connection": with AOF on, a
        # restarted redis-server accepts connections while it loads the file and answers
        # -LOADING meanwhile (redis-py's BusyLoadingError), which a test's client does not
        # ride out (tests/jobs/test_runner.py failed so under load).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"EXISTS private-redis:ready\r\n")
                    reply = sock.recv(64)  # :0, or -NOAUTH with --requirepass: ready
                    if reply and not reply.startswith(b"-LOADING"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None:
                break  # exited: the port taken meanwhile, a bad option
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def private_redis(directory: Path, *options: str) -> Iterator[PrivateRedis]:
    server = PrivateRedis(directory, *options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
