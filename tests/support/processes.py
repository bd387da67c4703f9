"""auditbot's own processes for end-to-end tests: `auditbot serve` and `auditbot worker`
started as subprocesses with an explicit environment, stopped (or killed) by the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from tests.support.servers import free_port


class Process:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as when a machine or container dies."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def base_env(extra: dict[str, str]) -> dict[str, str]:
    """A clean environment (no settings leak in from the shell) that keeps coverage
    measurement of the subprocess (COVERAGE_*)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k in {"PATH", "HOME", "LANG", "LC_ALL"} or k.startswith("COVERAGE_")
    }
    env.update(extra)
    return env


def start_web(env: dict[str, str], log_dir: Path) -> tuple[Process, str]:
    port = free_port()
    process = Process("web", ["serve", "--port", str(port)], env, log_dir)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"auditbot serve exited:\n{process.log()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"auditbot serve did not answer:\n{process.log()}")


# arq logs this once the worker's start-up (imports, settings and service checks) is over.
WORKER_READY_LINE = "Starting worker for"


def start_worker(env: dict[str, str], log_dir: Path, name: str = "worker") -> Process:
    """Start a worker and, when it logs at INFO, wait until it listens for jobs (or exits): a
    test's own waits then measure the job, not an interpreter start that takes 30 s on a loaded
    2-core machine. Benchmarks that log at WARNING wait for their own results instead."""
    process = Process(name, ["worker"], env, log_dir)
    if env.get("LOG_LEVEL", "INFO").upper() not in {"TRACE", "DEBUG", "INFO"}:
        return process  # the ready line is an INFO line: quieter workers are not waited for
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.popen.poll() is not None or WORKER_READY_LINE in process.log():
            return process
        time.sleep(0.1)
    raise RuntimeError(f"auditbot worker did not start within 120 s:\n{process.log()}")


def wait_for(
    predicate: Callable[[], bool], *, timeout: float, what: str, logs: Sequence[Process] = ()
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    details = "\n".join(f"--- {p.name} ---\n{p.log()[-4000:]}" for p in logs)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{details}")
