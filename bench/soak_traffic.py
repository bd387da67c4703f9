"""The soak benchmark's traffic: three repositories with one pull request each (real local
git repositories of ``economy_pr``'s shape, small), and a seeded stream of what GitHub
delivers for them: pushes (each a new head), ``/audit`` comments, repeats of earlier
deliveries, and deliveries sent as five concurrent copies. The fake GitHub is the sender:
a delivery answered 503 is listed as failed and re-sent only when auditbot asks for it.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.economy_pr import PullRequest, build, push_one
from bench.economy_stack import INSTALLATION, example, pr_payload, pull_files, tree
from tests.fakes.fake_github import FakeGitHub, Pull
from tests.fakes.github_hooks import HookSender
from tests.support.gitrepo import git

OWNER = "Codertocat"
FILES = 20  # 12 edited modules, 3 new files with a flaw each, 5 no reviewer sends
COPIES = 5
# What one step of the stream does, and how often.
ACTIONS = {"push": 0.6, "audit": 0.2, "repeat": 0.2}
COPIES_SHARE = 0.25  # of new deliveries, sent as COPIES concurrent copies


@dataclass
class SoakPull:
    name: str  # the repository's name
    repo_id: int
    number: int
    pr: PullRequest
    base: str
    heads: list[str] = field(default_factory=list)  # oldest first

    @property
    def full_name(self) -> str:
        return f"{OWNER}/{self.name}"


@dataclass
class Sent:
    guid: str
    event: str
    what: str  # open, push, audit
    pull: str  # repository name
    at: float


class Traffic:
    def __init__(self, github: FakeGitHub, hook: HookSender, root: Path,
                 rng: random.Random, repositories: int = 3) -> None:
        self.github = github
        self.hook = hook
        self.rng = rng
        self.sent: list[Sent] = []
        self.repeats = 0
        self.copies = 0
        self._pool = ThreadPoolExecutor(max_workers=COPIES)
        github.roles[OWNER] = "write"  # who comments /audit
        self.pulls = [self._pull(root, index) for index in range(1, repositories + 1)]

    def _pull(self, root: Path, index: int) -> SoakPull:
        pr = build(root / f"repo-{index}", FILES, seed=17 + index)
        base = git(pr.repo, "rev-parse", pr.base).strip()
        pull = SoakPull(f"soak-{index}", 9_000_000 + index, index, pr, base)
        repo = self.github.add_repo(OWNER, pull.name, INSTALLATION, default_branch="main")
        repo.trees["main"] = tree(pr.repo, base)
        self._move_head(pull, git(pr.repo, "rev-parse", pr.head).strip())
        return pull

    def _move_head(self, pull: SoakPull, head: str) -> None:
        repo = self.github.repos[pull.full_name]
        repo.trees[head] = tree(pull.pr.repo, head)
        if pull.heads:
            previous = pull.heads[-1]
            repo.comparisons[(previous, head)] = (previous,
                                                  pull_files(pull.pr.repo, previous, head))
        repo.pulls[pull.number] = Pull(pull.number, pull.base, head,
                                       pull_files(pull.pr.repo, pull.base, head))
        pull.heads.append(head)

    # What GitHub sends --------------------------------------------------------------

    def _in_repo(self, payload: dict[str, Any], pull: SoakPull) -> dict[str, Any]:
        repository = payload["repository"]
        repository.update(id=pull.repo_id, name=pull.name, full_name=pull.full_name,
                          html_url=f"https://github.com/{pull.full_name}",
                          url=f"https://api.github.com/repos/{pull.full_name}",
                          default_branch="main")
        repository["owner"]["login"] = OWNER
        return payload

    def _pull_request(self, action: str, pull: SoakPull) -> dict[str, Any]:
        payload = pr_payload(action, pull.number, pull.pr, pull.base, pull.heads[-1])
        if action == "synchronize":
            payload["before"], payload["after"] = pull.heads[-2], pull.heads[-1]
        return self._in_repo(payload, pull)

    def _audit(self, pull: SoakPull) -> dict[str, Any]:
        payload = example("issue_comment.created")
        payload["issue"]["number"] = pull.number
        payload["issue"]["pull_request"] = {
            "url": f"https://api.github.com/repos/{pull.full_name}/pulls/{pull.number}"}
        payload["comment"]["body"] = "/audit"
        payload["comment"]["id"] = self.rng.randrange(10**9)
        return self._in_repo(payload, pull)

    def _send(self, event: str, payload: dict[str, Any], what: str, pull: SoakPull) -> None:
        guid = f"{what}-{len(self.sent)}-{self.rng.getrandbits(48):012x}"
        self.sent.append(Sent(guid, event, what, pull.name, time.time()))
        if self.rng.random() < COPIES_SHARE:
            self.copies += 1
            futures = [self._pool.submit(self.hook.send, event, payload, guid)
                       for _ in range(COPIES)]
            for future in futures:
                future.result()
        else:
            self.hook.send(event, payload, guid)

    # The stream -----------------------------------------------------------------------

    def open_all(self) -> None:
        for pull in self.pulls:
            self._send("pull_request", self._pull_request("opened", pull), "open", pull)

    def step(self) -> None:
        """One thing that happens on GitHub."""
        action = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
        pull = self.rng.choice(self.pulls)
        if action == "push":
            self._move_head(pull, push_one(pull.pr, len(pull.heads)))
            self._send("pull_request", self._pull_request("synchronize", pull), "push", pull)
        elif action == "audit":
            self._send("issue_comment", self._audit(pull), "audit", pull)
        else:
            # An accepted delivery, again (GitHub delivers some twice; someone presses
            # "Redeliver"). Never a refused one: recovering those is auditbot's job.
            accepted = {a.guid for a in self.hook.attempts if 200 <= a.status_code < 300}
            candidates = [s for s in self.sent if s.guid in accepted]
            if not candidates:
                return
            earlier = self.rng.choice(candidates)
            self.repeats += 1
            self.hook.send(earlier.event, self.hook.body_of(earlier.guid), earlier.guid,
                           redelivery=True)

    def close(self) -> None:
        self._pool.shutdown()
