"""Comment commands, installation records and the reconciler, as the worker runs them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.errors import RetryLater
from bot.forges.base import CheckUpdate
from bot.forges.conversation import answer_marker
from bot.jobs.commands import run_command
from bot.jobs.contracts import InstallationRepository, RunCommand, SyncInstallation
from bot.jobs.deps import JobDeps, task_for_job
from bot.jobs.installations import sync_installation
from bot.jobs.reconcile import reconcile
from bot.store import audits
from bot.store.models import AuditTask, Installation, Project
from tests.fakes.fake_github import FakeGitHub, Pull, PullFile
from tests.jobs.conftest import INSTALLATION, ctx_of
from tests.jobs.test_review_job import CODE, HEAD, PATCH, REPO


def command(name: str, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "repository": REPO,
        "number": 5,
        "command": name,
        "author": "alice",
        "author_association": "MEMBER",
        "comment_id": 99,
        "delivery_id": f"d-{name}",
    }
    fields.update(overrides)
    return RunCommand(**fields).model_dump(mode="json")


def prepare(fake: FakeGitHub) -> None:
    repo = fake.repos["octo/demo"]
    repo.pulls[5] = Pull(5, "d" * 40, HEAD, [PullFile("tool.py", "added", PATCH, 5, 0)])
    repo.trees[HEAD] = {"tool.py": CODE.encode()}
    repo.trees["main"] = {}
    fake.roles["alice"] = "write"  # the worker reads the permission, not the association


def replies(fake: FakeGitHub) -> list[str]:
    return [c["payload"]["body"] for c in fake.comments.values() if c["number"] == 5]


async def test_help_answers_with_the_commands(deps: JobDeps, fake_github: FakeGitHub) -> None:
    prepare(fake_github)
    assert await run_command(ctx_of(deps, "c:help"), command("help")) == "help"
    [body] = replies(fake_github)
    assert "/audit cancel" in body and "@auditbot review" in body


async def test_audit_reviews_the_current_head(deps: JobDeps, fake_github: FakeGitHub) -> None:
    prepare(fake_github)
    assert await run_command(ctx_of(deps, "c:review"), command("review")) == "succeeded"
    assert len(fake_github.submitted_reviews("octo/demo", 5)) == 1
    task = await audits.find_task_by_job(deps.sessions, "c:review")
    assert task is not None and task.head_sha == HEAD and task.trigger == "command"


async def test_full_scans_the_tree_at_the_head(deps: JobDeps, fake_github: FakeGitHub) -> None:
    prepare(fake_github)
    assert await run_command(ctx_of(deps, "c:full"), command("full")) == "succeeded"
    task = await audits.find_task_by_job(deps.sessions, "c:full")
    assert task is not None and task.kind == "repository" and task.findings_count >= 1
    assert fake_github.submitted_reviews("octo/demo", 5) == []  # a scan never comments


async def test_commands_need_write_access_whatever_the_association(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """MEMBER only says the author belongs to the organisation, not that they may write
    here: the collaborator permission decides."""
    prepare(fake_github)
    fake_github.roles["alice"] = "read"
    assert await run_command(ctx_of(deps, "c:member"), command("review")) == "ignored"
    assert fake_github.submitted_reviews("octo/demo", 5) == []
    assert replies(fake_github) == []


async def queued_review_with_check(deps: JobDeps) -> tuple[str, str]:
    """A queued review of pull request 5 whose check run is open: its task and check ids."""
    forge = await deps.forges(REPO)
    check_id = await forge.create_check(HEAD, CheckUpdate(status="in_progress", title="t"))
    await forge.close()
    _, task_id, _ = await task_for_job(
        deps, REPO, "review_pull_request:queued", kind="review", pr_number=5, head_sha=HEAD
    )
    await audits.update_task(deps.sessions, task_id, check_run_id=check_id)
    return task_id, check_id


async def test_cancel_stops_queued_audits_and_concludes_their_checks(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare(fake_github)
    task_id, check_id = await queued_review_with_check(deps)
    assert await run_command(ctx_of(deps, "c:cancel"), command("cancel")) == "cancelled"
    task = await audits.get_task(deps.sessions, task_id)
    assert task is not None and task.status == "cancelled"
    assert fake_github.check_runs[int(check_id)]["conclusion"] == "cancelled"
    assert "cancelled 1 audit" in replies(fake_github)[0]


def sync(action: str, event: str = "installation", **fields: Any) -> dict[str, Any]:
    return SyncInstallation(
        event=event,
        action=action,
        installation_id=INSTALLATION,
        account_login="octo",
        account_id=1,
        delivery_id=f"d-{action}",
        **fields,
    ).model_dump(mode="json")


async def test_installation_records_follow_github(deps: JobDeps) -> None:
    one = InstallationRepository(id=11, full_name="octo/one")
    two = InstallationRepository(id=12, full_name="octo/two")
    ctx = ctx_of(deps, "s")
    assert await sync_installation(ctx, sync("created", repositories=[one])) == "active"
    await sync_installation(ctx, sync("added", "installation_repositories", added=[two]))
    await sync_installation(ctx, sync("removed", "installation_repositories", removed=[one]))
    async with deps.sessions() as session:
        projects = {p.full_name: p for p in await session.scalars(select(Project))}
    assert projects["octo/two"].enabled and not projects["octo/one"].enabled
    assert await sync_installation(ctx, sync("suspend")) == "suspended"
    assert await sync_installation(ctx, sync("deleted", repositories=[two])) == "deleted"
    async with deps.sessions() as session:
        installation = (await session.scalars(select(Installation))).one()
        enabled = [p.enabled for p in await session.scalars(select(Project))]
    assert installation.status == "deleted"
    assert enabled == [False, False]


async def test_reconciler_concludes_tasks_whose_jobs_are_gone(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare(fake_github)
    forge = await deps.forges(REPO)
    check_id = await forge.create_check(HEAD, CheckUpdate(status="in_progress", title="t"))
    await forge.close()
    _, task_id, _ = await task_for_job(deps, REPO, "lost-job", kind="review", head_sha=HEAD)
    long_ago = audits.now() - timedelta(hours=2)
    async with deps.sessions() as session, session.begin():
        await session.execute(
            update(AuditTask)
            .where(AuditTask.id == task_id)
            .values(status="running", check_run_id=check_id, updated_at=long_ago)
        )
    _, fresh_id, _ = await task_for_job(deps, REPO, "fresh-job", kind="review", head_sha=HEAD)
    assert await reconcile(ctx_of(deps, "cron")) == 1
    stale = await audits.get_task(deps.sessions, task_id)
    fresh = await audits.get_task(deps.sessions, fresh_id)
    assert stale is not None and stale.status == "failed" and stale.conclusion == "timed_out"
    assert fresh is not None and fresh.status == "queued"
    assert fake_github.check_runs[int(check_id)]["conclusion"] == "timed_out"


async def test_help_and_cancel_answer_once_when_their_job_runs_again(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """A job can run twice: arq retries it after GitHub applied the comment but a 502 lost
    the answer, or runs it again after the worker that posted it was killed before arq
    recorded the end. The answer to a command is on the pull request once."""
    prepare(fake_github)
    fake_github.inject("POST", r"/issues/5/comments$", 502, apply_first=True)
    with pytest.raises(RetryLater):
        await run_command(ctx_of(deps, "c:help"), command("help"))
    assert await run_command(ctx_of(deps, "c:help"), command("help")) == "help"
    [body] = replies(fake_github)
    assert "/audit cancel" in body

    await queued_review_with_check(deps)
    cancel = command("cancel", comment_id=100)
    for _ in range(2):  # the second run: the first was killed after posting
        assert await run_command(ctx_of(deps, "c:cancel"), cancel) == "cancelled"
    assert [r for r in replies(fake_github) if "cancelled" in r] == [
        f"{answer_marker(100)}\nauditbot: cancelled 1 audit(s) of this pull request."]
