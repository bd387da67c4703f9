"""The whole product as users run it: `auditbot serve` and `auditbot worker` as real
processes on real Redis and SQLite, talking to a fake GitHub and a fake LLM on loopback."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.store.migrate import upgrade
from tests.fakes.fake_github import FakeGitHub, Pull, PullFile, Repo
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.support.gitrepo import git
from tests.support.processes import Process, base_env, start_web, start_worker
from tests.support.servers import serve_in_thread

FIXTURES = Path(__file__).parent.parent / "fixtures" / "github"
APP_ID = 5150
INSTALLATION = 9901
SECRET = "e2e-webhook-secret"
LLM_KEY = "sk-e2e-0123456789abcdef0123456789abcdef"
LLM_MODEL = "e2e-review-model"


def example(name: str) -> dict[str, Any]:
    """A payload from @octokit/webhooks-examples, as a GitHub App receives it: the examples
    were captured from repository webhooks, so the App's `installation` is added."""
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    data = copy.deepcopy(data[0] if isinstance(data, list) else data)
    data["installation"] = {
        "id": INSTALLATION,
        "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uOTkwMQ==",
    }
    return data


@pytest.fixture(scope="session")
def app_keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def pull_files(repo: Path, base: str, head: str) -> list[PullFile]:
    """The files of ``base..head`` exactly as GitHub lists them: header-less patches."""
    files = []
    for line in git(repo, "diff", "--name-status", base, head).splitlines():
        status, path = line.split("\t", 1)
        diff = git(repo, "diff", "--no-color", base, head, "--", path)
        patch = diff[diff.index("@@") :] if "@@" in diff else ""
        adds = sum(1 for x in patch.splitlines() if x.startswith("+"))
        dels = sum(1 for x in patch.splitlines() if x.startswith("-"))
        kind = {"A": "added", "M": "modified", "D": "removed"}[status[0]]
        files.append(PullFile(path, kind, patch.rstrip("\n"), adds, dels))
    return files


def tree(repo: Path, ref: str) -> dict[str, bytes]:
    paths = git(repo, "ls-tree", "-r", "--name-only", ref).split()
    return {p: git(repo, "show", f"{ref}:{p}").encode() for p in paths}


@dataclass
class Stack:
    github: FakeGitHub
    llm: FakeOpenAI
    web_url: str
    env: dict[str, str]
    tmp: Path
    processes: list[Process] = field(default_factory=list)

    @property
    def repo(self) -> Repo:
        return self.github.repos["Codertocat/Hello-World"]

    def deliver(
        self, event: str, payload: dict[str, Any], delivery: str | None = None
    ) -> httpx.Response:
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        return httpx.post(
            f"{self.web_url}/webhooks/github",
            content=body,
            headers={
                "content-type": "application/json",
                "x-github-event": event,
                "x-github-delivery": delivery or str(uuid.uuid4()),
                "x-hub-signature-256": signature,
            },
            timeout=10,
        )

    def worker(self, name: str = "worker", **env: str) -> Process:
        process = start_worker({**self.env, **env}, self.tmp, name)
        self.processes.append(process)
        return process

    def set_pull(self, number: int, repo: Path, base: str, head: str) -> tuple[str, str]:
        base_sha = git(repo, "rev-parse", base).strip()
        head_sha = git(repo, "rev-parse", head).strip()
        self.repo.pulls[number] = Pull(number, base_sha, head_sha, pull_files(repo, base, head))
        self.repo.trees[head_sha] = tree(repo, head)
        self.repo.trees["master"] = tree(repo, base)
        return base_sha, head_sha

    def check_runs(self) -> list[dict[str, Any]]:
        return list(self.github.check_runs.values())


@pytest.fixture
def stack(tmp_path: Path, app_keys: tuple[str, str], redis_url: str) -> Iterator[Stack]:
    github = FakeGitHub(app_id=APP_ID, public_key_pem=app_keys[1])
    github.add_repo("Codertocat", "Hello-World", INSTALLATION, default_branch="master")
    llm = FakeOpenAI(
        OpenAIExpect(path="/v1/chat/completions", key=LLM_KEY, model=LLM_MODEL), findings=[]
    )
    with serve_in_thread(github.app) as github_url, serve_in_thread(llm.app) as llm_url:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'auditbot.db'}"
        upgrade(database_url)
        env = base_env(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "APP_ID": str(APP_ID),
                "PRIVATE_KEY": app_keys[0],
                "WEBHOOK_SECRET": SECRET,
                "GITHUB_API_URL": github_url,
                "APP_SLUG": "auditbot",
                "GITHUB_WRITE_SPACING_S": "0.02",
                "JWT_SECRET": "e2e-" + "j" * 40,
                "PUBLIC_URL": "http://auditbot.test",
                "DATA_DIR": str(tmp_path / "data"),
                "LLM_PROVIDER": "openai_compatible",
                "LLM_BASE_URL": f"{llm_url}/v1",
                "LLM_MODEL": LLM_MODEL,
                "LLM_API_KEY": LLM_KEY,
                "LLM_TIMEOUT_S": "5",
                "LLM_MAX_RETRIES": "1",
                "LLM_BACKOFF_BASE_S": "0.05",
                "LLM_CONTEXT_WINDOW": "32768",
                "LLM_PRICE_INPUT": "1",
                "LLM_PRICE_OUTPUT": "2",
                "LOG_LEVEL": "INFO",
            }
        )
        web, web_url = start_web(env, tmp_path)
        stack = Stack(github, llm, web_url, env, tmp_path, [web])
        try:
            yield stack
        finally:
            for process in stack.processes:
                process.stop()
