"""The product against GitLab as users run it: `auditbot serve` and `auditbot worker` as
real processes on real Redis and SQLite, a fake GitLab and a fake LLM on loopback, and
GitLab's own webhook payloads (gitlab.com captures and the documentation's examples)."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from arq.connections import RedisSettings, create_pool
from arq.jobs import Job, JobStatus

from bot.forges.base import SUMMARY_MARKER
from bot.jobs.contracts import QUEUE_NAME
from bot.store.migrate import upgrade
from tests.fakes.fake_gitlab import MR, FakeGitLab, MRDiff
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.support.gitrepo import git
from tests.support.processes import Process, base_env, start_web, start_worker
from tests.support.servers import serve_in_thread

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gitlab"
TOKEN = "glpat-e2e-0123456789abcdef"
SECRET = "e2e-gitlab-hook-token"
LLM_KEY = "sk-e2e-0123456789abcdef0123456789abcdef"
LLM_MODEL = "e2e-review-model"
TERMINAL = {"success", "failed", "canceled", "skipped"}


def capture(action: str) -> dict[str, Any]:
    """A gitlab.com Merge Request Hook capture (tests/fixtures/gitlab/README.md)."""
    entries = json.loads((FIXTURES / "gitlab-com-captures.json").read_text())
    for entry in entries:
        attributes = entry["payload"].get("object_attributes") or {}
        if entry["event_header"] == "Merge Request Hook" and attributes.get("action") == action:
            return copy.deepcopy(entry["payload"])
    raise KeyError(action)


def doc_example(name: str) -> dict[str, Any]:
    """An example payload from GitLab's webhook events documentation, unchanged."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def file_diffs(repo: Path, base: str, head: str) -> list[MRDiff]:
    """``base..head`` as GitLab's diffs endpoints list it: one item per file, the
    header-less patch in ``diff``."""
    diffs = []
    for line in git(repo, "diff", "-M", "--name-status", base, head).splitlines():
        status, *paths = line.split("\t")
        old, new = paths[0], paths[-1]  # a rename lists both: R<score> old new
        text = git(repo, "diff", "-M", "--no-color", base, head, "--", *paths)
        patch = text[text.index("@@") :] if "@@" in text else ""
        diffs.append(
            MRDiff(
                old,
                new,
                patch,
                new_file=status == "A",
                deleted_file=status == "D",
                renamed_file=status.startswith("R"),
            )
        )
    return diffs


def tree(repo: Path, ref: str) -> dict[str, bytes]:
    paths = git(repo, "ls-tree", "-r", "--name-only", ref).split()
    return {p: git(repo, "show", f"{ref}:{p}").encode() for p in paths}


def sha(repo: Path, ref: str) -> str:
    return git(repo, "rev-parse", ref).strip()


@dataclass
class GitLabStack:
    gitlab: FakeGitLab
    llm: FakeOpenAI
    web_url: str
    env: dict[str, str]
    tmp: Path
    processes: list[Process] = field(default_factory=list)

    def deliver(
        self, event: str, payload: dict[str, Any], *, delivery: str | None = None
    ) -> httpx.Response:
        return httpx.post(
            f"{self.web_url}/webhooks/gitlab",
            content=json.dumps(payload).encode(),
            headers={
                "content-type": "application/json",
                "x-gitlab-event": event,
                "x-gitlab-token": SECRET,
                "x-gitlab-event-uuid": delivery or str(uuid.uuid4()),
            },
            timeout=10,
        )

    def worker(self, name: str = "worker", **env: str) -> Process:
        process = start_worker({**self.env, **env}, self.tmp, name)
        self.processes.append(process)
        return process

    @property
    def web(self) -> Process:
        return self.processes[0]

    def project(self, payload: dict[str, Any]) -> int:
        """The payload's project in the fake, created on first use."""
        info = payload["project"]
        if info["id"] not in self.gitlab.projects:
            self.gitlab.add_project(
                info["id"], info["path_with_namespace"], default_branch=info["default_branch"]
            )
        return int(info["id"])

    def push_mr_version(
        self,
        project_id: int,
        iid: int,
        repo: Path,
        *,
        base: str,
        start: str,
        head: str,
        source_branch: str = "feature",
    ) -> tuple[str, str, str]:
        """A new MR version ``(base, start, head)``: its diffs (merge base to head), the
        head's files, and the commits GitLab knows."""
        project = self.gitlab.projects[project_id]
        version = (sha(repo, base), sha(repo, start), sha(repo, head))
        mr = project.mrs.get(iid)
        if mr is None:
            mr = project.mrs[iid] = MR(iid, project_id, project_id, source_branch, [], [])
        mr.versions.append(version)
        mr.diffs = file_diffs(repo, version[0], version[2])
        project.commits.update(version)
        project.trees[version[2]] = tree(repo, version[2])
        return version

    def statuses(self, commit: str) -> list[dict[str, Any]]:
        return [s for s in self.gitlab.statuses if s["sha"] == commit]

    def concluded(self, commit: str) -> list[dict[str, Any]]:
        return [s for s in self.statuses(commit) if s["status"] in TERMINAL]

    def discussions(self, project_id: int, iid: int) -> list[dict[str, Any]]:
        return self.gitlab.discussions.get((project_id, iid), [])

    def notes(self, project_id: int, iid: int) -> list[dict[str, Any]]:
        return self.gitlab.notes.get((project_id, iid), [])

    def general_notes(self, project_id: int, iid: int) -> list[dict[str, Any]]:
        return [n for n in self.notes(project_id, iid) if n["type"] is None]

    def summaries(self, project_id: int, iid: int) -> list[dict[str, Any]]:
        return [n for n in self.general_notes(project_id, iid) if SUMMARY_MARKER in n["body"]]

    def queued_jobs(self) -> int:
        async def ask() -> int:
            redis = await create_pool(RedisSettings.from_dsn(self.env["REDIS_URL"]))
            try:
                return int(await redis.zcard(QUEUE_NAME))
            finally:
                await redis.aclose()

        return asyncio.run(ask())

    def job_status(self, job_id: str) -> tuple[JobStatus, Any]:
        """arq's view of a job: its status and, once complete, its result."""

        async def ask() -> tuple[JobStatus, Any]:
            redis = await create_pool(RedisSettings.from_dsn(self.env["REDIS_URL"]))
            try:
                job = Job(job_id, redis)
                status = await job.status()
                info = await job.result_info() if status == JobStatus.complete else None
                return status, info.result if info is not None else None
            finally:
                await redis.aclose()

        return asyncio.run(ask())


@contextmanager
def gitlab_stack(tmp_path: Path, redis_url: str) -> Iterator[GitLabStack]:
    gitlab = FakeGitLab(token=TOKEN)
    llm = FakeOpenAI(
        OpenAIExpect(path="/v1/chat/completions", key=LLM_KEY, model=LLM_MODEL), findings=[]
    )
    with serve_in_thread(gitlab.app) as gitlab_url, serve_in_thread(llm.app) as llm_url:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'auditbot.db'}"
        upgrade(database_url)
        env = base_env(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "GITLAB_URL": gitlab_url,
                "GITLAB_TOKEN": TOKEN,
                "GITLAB_WEBHOOK_SECRET": SECRET,
                "JWT_SECRET": "e2e-" + "j" * 40,
                "PUBLIC_URL": "http://auditbot.test",
                "DATA_DIR": str(tmp_path / "data"),
                "JOB_TIMEOUT_S": "30",
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
        stack = GitLabStack(gitlab, llm, web_url, env, tmp_path, [web])
        try:
            yield stack
        finally:
            for process in stack.processes:
                process.stop()
