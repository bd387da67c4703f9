"""Push, repository and archive scans: check runs on the commit, never PR comments; public
repositories get counts and a link, not vulnerability details."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.errors import AuditbotError
from bot.findings import Category, Finding, Severity
from bot.forges.base import CheckUpdate
from bot.jobs import endings
from bot.jobs.contracts import Repository, ScanArchive, ScanPush, ScanRepository
from bot.jobs.deps import JobDeps, task_for_job
from bot.jobs.lifecycle import end_task
from bot.jobs.scans import scan_archive, scan_push, scan_repository
from bot.store import audits
from bot.store.models import AuditTask, FindingRecord, Project
from tests.fakes.fake_github import FakeGitHub, PullFile
from tests.jobs.conftest import INSTALLATION, ctx_of

VULNERABLE = 'import subprocess\n\n\ndef run(x):\n    subprocess.call("ls " + x, shell=True)\n'
PATCH = "@@ -0,0 +1,5 @@\n" + "\n".join("+" + line for line in VULNERABLE.splitlines())
BEFORE, AFTER = "a" * 40, "b" * 40
REPO = Repository(
    forge="github",
    id=4321,
    full_name="octo/demo",
    default_branch="main",
    installation_id=INSTALLATION,
)


def push_payload() -> dict[str, object]:
    return ScanPush(
        repository=REPO, ref="refs/heads/main", before=BEFORE, after=AFTER, delivery_id="d-push"
    ).model_dump(mode="json")


def prepare(fake: FakeGitHub) -> None:
    repo = fake.repos["octo/demo"]
    repo.trees[AFTER] = {"tool.py": VULNERABLE.encode()}
    repo.trees["main"] = {"tool.py": VULNERABLE.encode()}
    repo.comparisons[(BEFORE, AFTER)] = (BEFORE, [PullFile("tool.py", "added", PATCH, 5, 0)])


async def test_push_scan_concludes_a_check_on_the_pushed_commit(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare(fake_github)
    assert await scan_push(ctx_of(deps, "scan_push:1"), push_payload()) == "succeeded"
    runs = list(fake_github.check_runs.values())
    assert len(runs) == 1
    assert runs[0]["head_sha"] == AFTER
    assert runs[0]["conclusion"] == "failure"
    assert len(runs[0]["annotations"]) >= 1  # a private repository: details shown
    assert fake_github.reviews == {}  # no pull request comments
    # The same job again (a retry after it finished) does nothing.
    assert await scan_push(ctx_of(deps, "scan_push:1"), push_payload()) == "succeeded"
    assert len(fake_github.check_runs) == 1


async def public_repository(deps: JobDeps, fake_github: FakeGitHub) -> None:
    prepare(fake_github)
    await audits.ensure_project(
        deps.sessions, kind="github", external_id=REPO.id, full_name=REPO.full_name, private=False
    )


async def test_public_repository_check_shows_counts_not_details(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    await public_repository(deps, fake_github)
    await scan_push(ctx_of(deps, "scan_push:2"), push_payload())
    run = next(iter(fake_github.check_runs.values()))
    assert run["annotations"] == []
    assert "public" in run["output"]["summary"]
    assert "shell" not in run["output"]["summary"].lower()


async def test_repository_scan_covers_the_tree(deps: JobDeps, fake_github: FakeGitHub) -> None:
    prepare(fake_github)
    # A project known from an earlier webhook job, scanned from the API.
    project_id, task_id, _ = await task_for_job(deps, REPO, "api-scan", kind="repository")
    payload = ScanRepository(task_id=task_id, project_id=project_id, ref=AFTER)
    assert await scan_repository(ctx_of(deps, "scan_repository:x"), payload.model_dump()) == (
        "succeeded"
    )
    async with deps.sessions() as session:
        task = await session.get(AuditTask, task_id)
        rows = list(
            await session.scalars(select(FindingRecord).where(FindingRecord.task_id == task_id))
        )
    assert task is not None and task.status == "succeeded"
    assert {r.path for r in rows} == {"tool.py"}
    assert any(r.start_line == 5 for r in rows)


async def archive_task(deps: JobDeps, name: str) -> tuple[str, int]:
    project_id = await audits.ensure_project(deps.sessions, kind="archive", full_name=name)
    task_id = await audits.create_task(deps.sessions, project_id=project_id, kind="archive")
    return task_id, project_id


def uploaded_archive(deps: JobDeps) -> Path:
    folder = deps.settings.data_dir / "uploads"
    folder.mkdir(parents=True)
    archive = folder / "code.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("repo-main/tool.py", VULNERABLE)
    return archive


async def test_archive_scan(deps: JobDeps) -> None:
    archive = uploaded_archive(deps)
    task_id, project_id = await archive_task(deps, "code.zip")
    payload = ScanArchive(task_id=task_id, project_id=project_id, archive_path=str(archive))
    assert await scan_archive(ctx_of(deps, "scan_archive:1"), payload.model_dump()) == "succeeded"
    async with deps.sessions() as session:
        rows = list(
            await session.scalars(select(FindingRecord).where(FindingRecord.task_id == task_id))
        )
    assert any(r.path == "tool.py" and r.start_line == 5 for r in rows)


async def test_hostile_archive_fails_with_its_reason(deps: JobDeps) -> None:
    folder = deps.settings.data_dir
    folder.mkdir(parents=True)
    archive = folder / "slip.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../etc/cron.d/evil", "* * * * * root sh")
    task_id, project_id = await archive_task(deps, "slip.zip")
    payload = ScanArchive(task_id=task_id, project_id=project_id, archive_path=str(archive))
    assert await scan_archive(ctx_of(deps, "scan_archive:2"), payload.model_dump()) == "failed"
    task = await audits.get_task(deps.sessions, task_id)
    assert task is not None and "outside the archive" in (task.error or "")


async def test_archive_outside_data_dir_is_refused(deps: JobDeps, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.zip"
    with zipfile.ZipFile(elsewhere, "w") as zf:
        zf.writestr("a.py", "x = 1\n")
    task_id, project_id = await archive_task(deps, "elsewhere.zip")
    payload = ScanArchive(task_id=task_id, project_id=project_id, archive_path=str(elsewhere))
    assert await scan_archive(ctx_of(deps, "scan_archive:3"), payload.model_dump()) == "failed"
    async with deps.sessions() as session:
        project = await session.get(Project, project_id)
    assert project is not None


async def test_public_details_when_the_setting_allows(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    await public_repository(deps, fake_github)
    deps.settings = deps.settings.model_copy(update={"publish_public_details": True})
    await scan_push(ctx_of(deps, "scan_push:3"), push_payload())
    run = next(iter(fake_github.check_runs.values()))
    assert len(run["annotations"]) >= 1


async def test_a_task_budget_override_is_forgotten_when_the_task_ends(deps: JobDeps) -> None:
    """A worker runs for months: the per-task cap a project sets must not pile up."""
    import dataclasses

    from pydantic import SecretStr

    from tests.llm.helpers import KEYS, base_url, make_fake, make_service, serving

    archive = uploaded_archive(deps)
    task_id, project_id = await archive_task(deps, "code.zip")
    async with deps.sessions() as session, session.begin():
        project = await session.get(Project, project_id)
        assert project is not None
        project.budget_per_task_usd = 0.0001  # too little for one call
    fake = make_fake("openai")
    key = SecretStr(KEYS["OPENAI_API_KEY"])
    settings = deps.settings.model_copy(update={"openai_api_key": key})
    with serving(fake) as (server,):
        service = make_service(settings, [("openai", base_url("openai", server))])
        default_cap = service.budgets.scopes(task_id, None, None)[0].limit_micro
        with_llm = dataclasses.replace(deps, llm=service)
        payload = ScanArchive(task_id=task_id, project_id=project_id, archive_path=str(archive))
        status = await scan_archive(ctx_of(with_llm, "scan_archive:2"), payload.model_dump())
        await service.aclose()
    assert status == "succeeded"
    assert fake.requests == []  # the override applied: the model was never called
    assert service.budgets.scopes(task_id, None, None)[0].limit_micro == default_cap


async def test_results_are_kept_when_github_refuses_the_check_update(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """The findings are stored before the check run is concluded: a refused update loses
    nothing, and the task is not left running."""
    prepare(fake_github)
    fake_github.inject("PATCH", r"/check-runs/\d+$", 422, times=10)
    with pytest.raises(AuditbotError):
        await scan_push(ctx_of(deps, "scan_push:refused"), push_payload())
    task = await audits.find_task_by_job(deps.sessions, "scan_push:refused")
    assert task is not None and task.status == "succeeded"
    async with deps.sessions() as session:
        stored = (await session.scalars(
            select(FindingRecord).where(FindingRecord.task_id == task.id)
        )).all()
    assert [f.path for f in stored] and {f.path for f in stored} == {"tool.py"}


async def test_a_retried_task_stores_its_findings_once(deps: JobDeps) -> None:
    """save_findings replaces what an earlier try of the same task stored."""
    project_id, task_id, _ = await task_for_job(deps, REPO, "scan:twice", kind="push")
    finding = Finding(path="tool.py", start_line=5, end_line=5, severity=Severity.HIGH,
                      category=Category.SECURITY, title="Shell", message="m",
                      source="static:x", fingerprint="f" * 32)
    for _ in range(2):
        await audits.save_findings(deps.sessions, task_id=task_id, project_id=project_id,
                                   pr_number=None, head_sha=AFTER,
                                   placed=[(finding, "report", None)])
    async with deps.sessions() as session:
        rows = (await session.scalars(
            select(FindingRecord).where(FindingRecord.task_id == task_id)
        )).all()
    assert [(r.path, r.start_line) for r in rows] == [("tool.py", 5)]


async def test_a_cancelled_scan_run_again_concludes_the_check_its_first_try_opened(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """A try opened the check run; the task was then cancelled by someone who could not
    conclude it (the forge refused, the web process has none). The next try of the job
    does not scan: it concludes that run as cancelled, with the cancel's reason."""
    prepare(fake_github)
    project_id, task_id, _ = await task_for_job(deps, REPO, "api-scan", kind="repository")
    forge = await deps.forges(REPO)
    check_id = await forge.create_check(AFTER, CheckUpdate(status="in_progress", title="x"))
    await forge.close()
    assert await audits.start_task(deps.sessions, task_id) == 1
    await audits.update_task(deps.sessions, task_id, check_run_id=check_id)
    await end_task(deps.sessions, task_id, endings.cancelled("Scan", "cancelled through the API"))

    payload = ScanRepository(task_id=task_id, project_id=project_id, ref=AFTER)
    result = await scan_repository(ctx_of(deps, "scan_repository:again"), payload.model_dump())

    assert result == "cancelled"
    assert list(fake_github.check_runs) == [int(check_id)]  # no second run opened
    run = fake_github.check_runs[int(check_id)]
    assert (run["status"], run["conclusion"]) == ("completed", "cancelled")
    assert run["output"]["title"] == "Scan cancelled through the API"
    task = await audits.get_task(deps.sessions, task_id)
    assert task is not None and task.status == "cancelled" and task.attempts == 1
    assert task.check_concluded_at is not None
    async with deps.sessions() as session:
        stored = (await session.scalars(
            select(FindingRecord).where(FindingRecord.task_id == task_id))).all()
    assert stored == []


async def test_a_scan_run_again_after_it_ended_publishes_nothing_more(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """The job of a finished scan runs again (its worker was killed after the scan ended,
    before arq recorded the job's end): it does not scan again, and the check run is not
    updated again. GitHub appends annotations at every update, so a second conclusion
    showed each annotation twice."""
    prepare(fake_github)
    project_id, task_id, _ = await task_for_job(deps, REPO, "api-scan", kind="repository")
    payload = ScanRepository(task_id=task_id, project_id=project_id, ref=AFTER).model_dump()
    assert await scan_repository(ctx_of(deps, "scan_repository:x"), payload) == "succeeded"
    [run] = fake_github.check_runs.values()
    annotations, updates = list(run["annotations"]), len(run["history"])
    assert annotations
    assert await scan_repository(ctx_of(deps, "scan_repository:x"), payload) == "succeeded"
    [run] = fake_github.check_runs.values()
    assert run["annotations"] == annotations and len(run["history"]) == updates
