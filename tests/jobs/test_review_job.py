"""The PR review job's own rules, in-process against the fake GitHub: stale heads, drafts,
ignored authors and a disabled configuration, each concluding the check with its reason."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import SecretStr

from bot.errors import AuditbotError
from bot.forges.base import CheckUpdate
from bot.jobs.contracts import Repository, ReviewPullRequest
from bot.jobs.deps import JobDeps, task_for_job
from bot.jobs.review import review_pull_request
from bot.llm.service import build_llm_service
from bot.store import audits
from tests.fakes.fake_github import FakeGitHub, Pull, PullFile
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.jobs.conftest import INSTALLATION, ctx_of
from tests.support.servers import serve_in_thread

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


async def test_a_newer_push_supersedes_an_older_running_review(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:

    prepare(fake_github)
    older_head = "9" * 40
    forge = await deps.forges(REPO)
    older_check = await forge.create_check(
        older_head, CheckUpdate(status="in_progress", title="Audit in progress")
    )
    await forge.close()
    _, older_id, _ = await task_for_job(
        deps, REPO, "review:older", kind="review", pr_number=5, head_sha=older_head
    )
    await audits.update_task(deps.sessions, older_id, status="running", check_run_id=older_check)

    assert await review_pull_request(ctx_of(deps, "review:newer"), payload()) == "succeeded"
    older = await audits.get_task(deps.sessions, older_id)
    assert older is not None and older.status == "cancelled"
    assert older.superseded_by == HEAD
    run = fake_github.check_runs[int(older_check)]
    assert run["conclusion"] == "cancelled"
    assert HEAD[:12] in run["output"]["title"]


async def test_the_time_limit_concludes_the_check(deps: JobDeps, fake_github: FakeGitHub) -> None:

    prepare(fake_github)
    llm = FakeOpenAI(
        OpenAIExpect(path="/v1/chat/completions", key="k-123456", model="m"),
        findings=[],
        slow_s=30.0,
    )
    llm.script.set(["slow"] * 10)
    with serve_in_thread(llm.app) as base:
        deps.settings = deps.settings.model_copy(update={"job_timeout_s": 5})
        settings = deps.settings.model_copy(
            update={
                "llm_provider": "openai_compatible",
                "llm_base_url": f"{base}/v1",
                "llm_model": "m",
                "llm_timeout_s": 60.0,
                "llm_context_window": 32768,
                "llm_price_input": 1.0,
                "llm_price_output": 1.0,
            }
        )

        settings = settings.model_copy(update={"llm_api_key": SecretStr("k-123456")})
        deps.llm = build_llm_service(settings, None)
        try:
            result = await review_pull_request(ctx_of(deps, "review:slow"), payload())
        finally:
            await deps.llm.aclose()
            deps.llm = None
    assert result == "failed"
    run = only_run(fake_github)
    assert run["conclusion"] == "timed_out"
    assert "longer than" in run["output"]["title"]
    task = await audits.find_task_by_job(deps.sessions, "review:slow")
    assert task is not None and task.status == "failed"


async def test_config_is_read_at_the_base_commit_not_the_branch_tip_or_head(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """The base SHA the PR was compared against decides; a later push to the base branch
    or the PR's own head cannot change the rules of this audit."""
    base_sha = "d" * 40
    prepare(fake_github, config="enabled: true\n")
    repo = fake_github.repos["octo/demo"]
    repo.trees[base_sha] = {".auditbot.yml": b"enabled: false\n"}
    repo.trees[HEAD][".auditbot.yml"] = b"enabled: true\n"
    status = await review_pull_request(ctx_of(deps, "r:base"), payload(base_sha=base_sha))
    assert status == "skipped"
    assert "disabled" in only_run(fake_github)["output"]["title"]


async def test_the_task_ends_even_when_github_refuses_the_check_update(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """A stale head concludes the check run and the task; if GitHub refuses the check
    update, the task is still recorded as ended rather than left running."""
    prepare(fake_github)
    fake_github.inject("PATCH", r"/check-runs/\d+$", 422, times=10)
    with pytest.raises(AuditbotError):
        await review_pull_request(ctx_of(deps, "r:refused"), payload(head_sha="e" * 40))
    task = await audits.find_task_by_job(deps.sessions, "r:refused")
    assert task is not None
    assert (task.status, task.superseded_by) == ("cancelled", HEAD)


async def test_a_project_turned_off_on_its_page_is_not_reviewed(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    from bot.store.models import Project

    prepare(fake_github)
    async with deps.sessions() as session, session.begin():
        session.add(Project(kind="github", external_id=REPO.id, full_name=REPO.full_name,
                            enabled=False, settings={}))
    assert await review_pull_request(ctx_of(deps, "r:off"), payload()) == "skipped"
    run = only_run(fake_github)
    assert run["conclusion"] == "neutral"
    assert "turned off in this project's auditbot settings" in run["output"]["title"]
    assert fake_github.submitted_reviews("octo/demo", 5) == []


async def test_a_second_run_of_a_job_while_the_first_lives_publishes_once(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """A worker cut off from Redis longer than JOB_LEASE_S loses its job's lease while it
    lives, and another worker runs the job again. Both runs find the one task and check
    run; the first to publish ends the task, and the other then publishes nothing: no
    second review, no edit of the summary, no second conclusion of the check."""
    prepare(fake_github)
    llm = FakeOpenAI(
        OpenAIExpect(path="/v1/chat/completions", key="k-123456", model="m"),
        findings=[], slow_s=4.0,
    )
    llm.script.set(["slow"])  # the first run's model call takes a while; the second's not
    with serve_in_thread(llm.app) as base:
        settings = deps.settings.model_copy(update={
            "llm_provider": "openai_compatible", "llm_base_url": f"{base}/v1",
            "llm_model": "m", "llm_timeout_s": 60.0, "llm_context_window": 32768,
            "llm_price_input": 1.0, "llm_price_output": 1.0,
            "llm_api_key": SecretStr("k-123456"),
        })
        deps.llm = build_llm_service(settings, None)
        try:
            first = asyncio.create_task(
                review_pull_request(ctx_of(deps, "r:twice"), payload()))
            for _ in range(300):
                if llm.requests and fake_github.check_runs:
                    break
                await asyncio.sleep(0.05)
            assert llm.requests and not first.done()
            second_ctx = {**ctx_of(deps, "r:twice"), "job_try": 2}
            assert await review_pull_request(second_ctx, payload()) == "succeeded"
            writes_after_second = [r for r in fake_github.requests if r[0] != "GET"]
            assert await first == "succeeded"
        finally:
            await deps.llm.aclose()
            deps.llm = None
    assert len(fake_github.submitted_reviews("octo/demo", 5)) == 1
    run = only_run(fake_github)
    assert run["conclusion"] == "failure"
    # The first run, finding its task ended, wrote nothing more to GitHub.
    later = [r for r in fake_github.requests if r[0] != "GET"][len(writes_after_second):]
    assert later == []
    task = await audits.find_task_by_job(deps.sessions, "r:twice")
    assert task is not None and task.status == "succeeded" and task.attempts == 2
