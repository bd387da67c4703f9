"""auditbot as users run it, for the economy benchmark: `auditbot serve` and `auditbot
worker` as real processes with default settings, a private Redis, SQLite, the fake GitHub
and the scripted model on loopback. A pull request is delivered as a signed webhook and
timed until its check run is concluded."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.economy_model import KEY
from bench.economy_pr import PullRequest
from bot.store.migrate import upgrade
from tests.fakes.fake_github import FakeGitHub, Pull, PullFile, Repo
from tests.fakes.fake_openai import FakeOpenAI
from tests.support.gitrepo import git
from tests.support.processes import Process, base_env, start_web, start_worker, wait_for
from tests.support.servers import free_port, serve_in_thread

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "github"
APP_ID = 1414
INSTALLATION = 1415
SECRET = "bench-economy-secret"
OWNER, NAME = "Codertocat", "Hello-World"


def example(name: str, installation: int = INSTALLATION) -> dict[str, Any]:
    """A webhook payload of @octokit/webhooks-examples as the App receives it."""
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    data = copy.deepcopy(data[0] if isinstance(data, list) else data)
    data["installation"] = {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uMTQxNQ=="}
    return data


def app_keys() -> tuple[str, str]:
    """A fresh GitHub App key pair: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def auditbot_env(root: Path, *, database: str, redis_url: str, private_key: str,
                 github_url: str, model_url: str, provider: str,
                 extra: dict[str, str]) -> dict[str, str]:
    """The settings `auditbot serve` and `auditbot worker` get: defaults but for where
    Redis, the database, the fake GitHub and the scripted model are."""
    return base_env({
        "DATABASE_URL": database, "REDIS_URL": redis_url, "APP_ID": str(APP_ID),
        "PRIVATE_KEY": private_key, "WEBHOOK_SECRET": SECRET, "GITHUB_API_URL": github_url,
        "APP_SLUG": "auditbot", "JWT_SECRET": "bench-" + "j" * 40,
        "PUBLIC_URL": "http://auditbot.test", "DATA_DIR": str(root / "data"),
        "LLM_PROVIDER": provider, "LLM_BASE_URL": f"{model_url}/v1",
        "LLM_API_KEY": KEY, "LOG_LEVEL": "WARNING", **extra,
    })


def pr_payload(action: str, number: int, pr: PullRequest, base: str,
               head: str) -> dict[str, Any]:
    """``pull_request.<action>`` for ``pr`` as pull request ``number`` at ``head``."""
    payload = example(f"pull_request.{action}")
    payload["number"] = number
    pull = payload["pull_request"]
    pull.update(number=number, draft=False, title=pr.title, body=pr.body)
    pull["head"]["sha"], pull["base"]["sha"], pull["base"]["ref"] = head, base, "main"
    return payload


def pull_files(repo: Path, base: str, head: str) -> list[PullFile]:
    """``base...head`` as GitHub lists it: header-less patches, binary files without one."""
    files = []
    numstat = {
        row.split("\t")[2]: row.split("\t")[:2]
        for row in git(repo, "diff", "--numstat", base, head).splitlines()
    }
    for line in git(repo, "diff", "--name-status", base, head).splitlines():
        status, path = line.split("\t", 1)
        adds, dels = numstat[path]
        diff = git(repo, "diff", "--no-color", base, head, "--", path)
        patch = diff[diff.index("@@") :].rstrip("\n") if "@@" in diff else ""
        kind = {"A": "added", "M": "modified", "D": "removed"}[status[0]]
        files.append(PullFile(path, kind, patch or None,  # type: ignore[arg-type]
                              int(adds) if adds != "-" else 0, int(dels) if dels != "-" else 0))
    return files


def tree(repo: Path, ref: str) -> dict[str, bytes]:
    paths = git(repo, "ls-tree", "-r", "--name-only", ref).split()
    out: dict[str, bytes] = {}
    for path in paths:
        out[path] = subprocess.run(["git", "-C", str(repo), "show", f"{ref}:{path}"],
                                   check=True, capture_output=True).stdout
    return out


@dataclass
class Measured:
    seconds: float
    calls: int
    chars: int
    prompt_tokens: int
    cached_tokens: int
    comments: int


class Stack:
    def __init__(self, root: Path, model: FakeOpenAI, provider: str, extra_env: dict[str, str]):
        self.root = root
        self.model = model
        self.provider = provider
        self.extra_env = extra_env
        self.github: FakeGitHub
        self.web_url = ""
        self.processes: list[Process] = []
        self._number = 0

    @property
    def repo(self) -> Repo:
        return self.github.repos[f"{OWNER}/{NAME}"]

    def start(self, stack: ExitStack, redis_url: str) -> None:
        private, public = app_keys()
        self.github = FakeGitHub(app_id=APP_ID, public_key_pem=public)
        self.github.add_repo(OWNER, NAME, INSTALLATION, default_branch="main")
        self.github.roles[OWNER] = "write"  # `/audit` is for people with write access
        github_url = stack.enter_context(serve_in_thread(self.github.app))
        model_url = stack.enter_context(serve_in_thread(self.model.app))
        database = f"sqlite+aiosqlite:///{self.root / 'auditbot.db'}"
        upgrade(database)
        env = auditbot_env(self.root, database=database, redis_url=redis_url,
                           private_key=private, github_url=github_url, model_url=model_url,
                           provider=self.provider, extra=self.extra_env)
        web, self.web_url = start_web(env, self.root)
        self.processes = [web, start_worker(env, self.root)]
        stack.callback(self.stop)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    def _deliver(self, event: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        answer = httpx.post(f"{self.web_url}/webhooks/github", content=body, timeout=30, headers={
            "content-type": "application/json", "x-github-event": event,
            "x-github-delivery": str(uuid.uuid4()), "x-hub-signature-256": signature})
        if answer.status_code != 202:
            raise RuntimeError(f"webhook answered {answer.status_code}: {answer.text}")

    def _snapshot(self) -> tuple[int, int, int, int, int]:
        usages = self.model.usages
        return (len(self.model.usages), self.model.prompt_chars,
                sum(u["prompt_tokens"] for u in usages),
                sum(u["prompt_tokens_details"]["cached_tokens"] for u in usages),
                len(self.github.review_comments))

    def _measure(self, started: float, before: tuple[int, ...]) -> Measured:
        after = self._snapshot()
        d = [a - b for a, b in zip(after, before, strict=True)]
        return Measured(time.monotonic() - started, d[0], d[1], d[2], d[3], d[4])

    def _completed(self, head: str) -> int:
        return sum(1 for run in self.github.check_runs.values()
                   if run.get("head_sha") == head and run.get("status") == "completed")

    def _wait(self, head: str, count: int, what: str) -> None:
        wait_for(lambda: self._completed(head) >= count, timeout=900, what=what,
                 logs=self.processes)

    def open(self, pr: PullRequest) -> tuple[int, str, Measured]:
        """Open ``pr`` (a new number): webhook -> check run concluded."""
        self._number += 1
        number = self._number
        base = git(pr.repo, "rev-parse", pr.base).strip()
        head = git(pr.repo, "rev-parse", pr.head).strip()
        self.repo.pulls[number] = Pull(number, base, head, pull_files(pr.repo, base, head))
        self.repo.trees[head] = tree(pr.repo, head)
        self.repo.trees.setdefault("main", tree(pr.repo, base))
        before = self._snapshot()
        started = time.monotonic()
        self._deliver("pull_request", pr_payload("opened", number, pr, base, head))
        self._wait(head, 1, f"the review of PR {number}")
        return number, head, self._measure(started, before)

    def push(self, pr: PullRequest, number: int, previous: str, head: str) -> Measured:
        """A push moved ``number``'s head from ``previous`` to ``head``."""
        base = git(pr.repo, "rev-parse", pr.base).strip()
        self.repo.pulls[number] = Pull(number, base, head, pull_files(pr.repo, base, head))
        self.repo.trees[head] = tree(pr.repo, head)
        self.repo.comparisons[(previous, head)] = (previous,
                                                   pull_files(pr.repo, previous, head))
        before = self._snapshot()
        started = time.monotonic()
        self._deliver("pull_request", pr_payload("synchronize", number, pr, base, head))
        self._wait(head, 1, f"the review of push {head[:8]}")
        return self._measure(started, before)

    def rerun(self, number: int, head: str) -> Measured:
        """``/audit`` on ``number``: a person asks for a review of the same head."""
        payload = example("issue_comment.created")
        payload["issue"]["number"] = number
        payload["issue"]["pull_request"] = {"url": f"https://api.github.com/repos/{OWNER}/"
                                            f"{NAME}/pulls/{number}"}
        payload["comment"]["body"] = "/audit"
        done = self._completed(head)
        before = self._snapshot()
        started = time.monotonic()
        self._deliver("issue_comment", payload)
        self._wait(head, done + 1, "the re-review")
        return self._measure(started, before)


class RedisServer:
    """A redis-server of our own on a free port, in its own folder, that can be stopped and
    started again on the same port and folder (with ``appendonly``, its data survives)."""

    def __init__(self, directory: Path, *, appendonly: bool = False) -> None:
        self.directory = directory
        self.appendonly = appendonly
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self._process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port",
             str(self.port), "--save", "", "--appendonly", "yes" if self.appendonly else "no",
             "--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not answer")

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it (with AOF on, it syncs the file first)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)


@contextmanager
def private_redis(root: Path, *, appendonly: bool = False) -> Iterator[str]:
    """A redis-server of our own on a free port, gone afterwards."""
    server = RedisServer(root / "redis", appendonly=appendonly)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
