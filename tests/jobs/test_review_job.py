"""The PR review job's own rules, in-process against the fake GitHub: stale heads, drafts,
ignored authors and a disabled configuration, each concluding the check with its reason."""

from __future__ import annotations

from typing import Any

import pytest

from bot.jobs.contracts import Repository, ReviewPullRequest
from bot.jobs.deps import JobDeps
from bot.jobs.review import review_pull_request
from bot.store import audits
from tests.fakes.fake_github import FakeGitHub, Pull, PullFile
from tests.jobs.conftest import INSTALLATION, ctx_of

CODE = 'import subprocess\n\n\ndef run(x):\n    subprocess.call("ls " + x, shell=True)\n'
PATCH = "@@ -0,0 +1,5 @@\n" + "\n".join("+" + line for line in CODE.splitlines())
HEAD = "c" * 40
REPO = Repository(
    forge="github",
    id=4321,
    full_name="octo/demo",
    default_branch="main",
    installation_id=INSTALLATION,
)


def prepare(fake: FakeGitHub, config: str | None = None) -> None:
    repo = fake.repos["octo/demo"]
    repo.pulls[5] = Pull(5, "d" * 40, HEAD, [PullFile("tool.py", "added", PATCH, 5, 0)])
    repo.trees[HEAD] = {"tool.py": CODE.encode()}
    repo.trees["main"] = {".auditbot.yml": config.encode()} if config else {}


def payload(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "repository": REPO,
        "number": 5,
        "head_sha": HEAD,
        "base_ref": "main",
        "author": "alice",
        "trigger": "pull_request.opened",
        "delivery_id": "d-1",
    }
    fields.update(overrides)
    return ReviewPullRequest(**fields).model_dump(mode="json")


def only_run(fake: FakeGitHub) -> dict[str, Any]:
    runs = list(fake.check_runs.values())
    assert len(runs) == 1
    return runs[0]


async def test_review_posts_and_concludes(deps: JobDeps, fake_github: FakeGitHub) -> None:
    prepare(fake_github)
    assert await review_pull_request(ctx_of(deps, "r:1"), payload()) == "succeeded"
    run = only_run(fake_github)
    assert run["conclusion"] == "failure"
    reviews = fake_github.submitted_reviews("octo/demo", 5)
    assert [c["line"] for c in reviews[0]["comments"]] == [5]
    # The same job delivered again after it finished: nothing new.
    assert await review_pull_request(ctx_of(deps, "r:1"), payload()) == "succeeded"
    assert len(fake_github.submitted_reviews("octo/demo", 5)) == 1


async def test_a_newer_head_supersedes_the_job(deps: JobDeps, fake_github: FakeGitHub) -> None:
    prepare(fake_github)
    old = "e" * 40
    assert await review_pull_request(ctx_of(deps, "r:2"), payload(head_sha=old)) == "cancelled"
    run = only_run(fake_github)
    assert run["conclusion"] == "cancelled"
    assert HEAD[:12] in run["output"]["title"]
    assert fake_github.submitted_reviews("octo/demo", 5) == []


@pytest.mark.parametrize(
    ("overrides", "config", "reason"),
    [
        ({"draft": True}, None, "draft"),
        (
            {"author": "dependabot[bot]"},
            "review:\n  ignore_authors: ['dependabot[bot]']\n",
            "ignore_authors",
        ),
        ({}, "enabled: false\n", "disabled"),
    ],
    ids=["draft", "ignored-author", "disabled"],
)
async def test_skips_conclude_neutral_with_the_reason(
    deps: JobDeps,
    fake_github: FakeGitHub,
    overrides: dict[str, Any],
    config: str | None,
    reason: str,
) -> None:
    prepare(fake_github, config)
    assert await review_pull_request(ctx_of(deps, "r:3"), payload(**overrides)) == "skipped"
    run = only_run(fake_github)
    assert run["conclusion"] == "neutral"
    assert reason in run["output"]["title"]
    assert fake_github.submitted_reviews("octo/demo", 5) == []


async def test_a_person_asking_reviews_a_draft(deps: JobDeps, fake_github: FakeGitHub) -> None:
    prepare(fake_github)
    result = await review_pull_request(
        ctx_of(deps, "r:4"), payload(draft=True, requested_by="alice")
    )
    assert result == "succeeded"
    task = await audits.find_task_by_job(deps.sessions, "r:4")
    assert task is not None and task.trigger == "command"
