"""Scans, uploads, task lists, cancel and retry against real Redis: the jobs land in arq's
queue with the documented payloads, and a cancel reaches arq's abort set and, through a
worker, the task's check run."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import redis

from bot.config import Settings
from bot.jobs.contracts import Repository
from bot.jobs.lifecycle import Audit
from bot.store.models import Installation, Project
from bot.web.auth import issue_access_token
from tests.events.private_redis import private_redis
from tests.fakes.fake_github import FakeGitHub
from tests.forges.conftest import APP_ID, INSTALLATION
from tests.jobs.conftest import job_deps
from tests.support.workers import run_queued_jobs
from tests.web.api.conftest import Api, small_zip, start_api

HEAD = "c" * 40


def _job(api: Api, job_id: str) -> dict[str, Any]:
    client = redis.Redis.from_url(api.settings.redis_url)
    try:
        raw = client.get(f"arq:job:{job_id}")
        assert raw is not None, f"job {job_id} is not in Redis"
        assert client.zscore("arq:queue", job_id) is not None
        return pickle.loads(raw)
    finally:
        client.close()


def test_scan_enqueues_scan_repository(api: Api) -> None:
    project = api.project("org/scan", default_branch="trunk")
    member = api.user()
    api.grant(member, project)
    client = api.as_user(member)
    answer = client.post(f"/api/v1/projects/{project.id}/scans", json={})
    assert answer.status_code == 202, answer.text
    task = answer.json()
    assert (task["kind"], task["status"], task["head_ref"]) == ("repository", "queued", "trunk")
    job = _job(api, task["job_id"])
    assert job["f"] == "scan_repository"
    assert job["a"] == ({"task_id": task["id"], "project_id": project.id, "ref": "trunk",
                         "requested_by": member.id, "retry_of": None},)
    listed = client.get("/api/v1/tasks", params={"project_id": project.id, "status": "queued"})
    assert [t["id"] for t in listed.json()["items"]] == [task["id"]]


def test_upload_zip_enqueues_scan_archive(api: Api) -> None:
    project = api.project("uploads", kind="archive")
    client = api.as_user(api.user(admin=True))
    answer = client.post(f"/api/v1/projects/{project.id}/archives", content=small_zip(),
                         headers={"Content-Type": "application/zip"})
    assert answer.status_code == 202, answer.text
    task = answer.json()
    job = _job(api, task["job_id"])
    assert job["f"] == "scan_archive"
    saved = Path(job["a"][0]["archive_path"])
    assert saved.read_bytes() == small_zip()
    assert saved.is_relative_to(Path(api.settings.data_dir).resolve())
    not_zip = client.post(f"/api/v1/projects/{project.id}/archives", content=b"PK but no",
                          headers={"Content-Type": "application/zip"})
    assert not_zip.status_code == 400
    leftovers = [p.name for p in saved.parent.iterdir() if p.suffix != ".zip"]
    assert leftovers == []  # a refused upload leaves no partial file behind
    wrong_type = client.post(f"/api/v1/projects/{project.id}/archives", content=small_zip(),
                             headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    # A scan by ref is refused for an archive project.
    assert client.post(f"/api/v1/projects/{project.id}/scans", json={}).status_code == 409


def test_cancel_marks_the_task_and_aborts_the_job(api: Api) -> None:
    project = api.project()
    client = api.as_user(api.user(admin=True))
    task = client.post(f"/api/v1/projects/{project.id}/scans", json={"ref": "v1"}).json()
    cancelled = client.post(f"/api/v1/tasks/{task['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None
    r = redis.Redis.from_url(api.settings.redis_url)
    try:
        assert r.zscore("arq:abort", task["job_id"]) is not None
    finally:
        r.close()
    assert client.post(f"/api/v1/tasks/{task['id']}/cancel").status_code == 409


async def _begin(settings: Settings, task_id: str, project_id: int) -> None:
    """What a review job does first: the task runs and its check run opens on GitHub."""
    async with job_deps(settings, settings.redis_url) as deps:
        repo = Repository(forge="github", id=1, full_name="octo/demo",
                          installation_id=INSTALLATION)
        forge = await deps.forges(repo)
        try:
            await Audit(deps, task_id, project_id, forge=forge, head_sha=HEAD).begin()
        finally:
            await forge.close()


def test_a_cancel_concludes_the_check_run_through_the_lifecycle(
    api_factory: Callable[..., Any], fake_github: FakeGitHub, github_url: str,
    app_keys: tuple[str, str],
) -> None:
    """The task ends at once, as every task ends (bot/jobs/lifecycle.py); the web process
    holds no forge, so a worker concludes the check run GitHub shows."""
    github = {"APP_ID": str(APP_ID), "PRIVATE_KEY": app_keys[0], "WEBHOOK_SECRET": "s",
              "GITHUB_API_URL": github_url, "GITHUB_WRITE_SPACING_S": "0", "APP_SLUG": "auditbot"}
    with api_factory(**github) as api:
        [installation] = api.add(Installation(forge="github", external_id=INSTALLATION,
                                              account_login="octo"))
        [project] = api.add(Project(kind="github", full_name="octo/demo", external_id=1,
                                    installation_id=installation.id, settings={}))
        task = api.task(project, kind="review", status="queued", pr_number=5, head_sha=HEAD,
                        job_id="review_pull_request:github:1:5:" + HEAD)
        asyncio.run(_begin(api.settings, task.id, project.id))
        [run] = fake_github.check_runs.values()
        assert run["status"] == "in_progress"

        client = api.as_user(api.user(admin=True))
        cancelled = client.post(f"/api/v1/tasks/{task.id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        asyncio.run(run_queued_jobs(api.settings))

        assert (run["status"], run["conclusion"]) == ("completed", "cancelled")
        assert run["output"]["title"] == "Audit cancelled through the API"
        stored = client.get(f"/api/v1/tasks/{task.id}").json()
        assert (stored["status"], stored["error"]) == ("cancelled", "cancelled through the API")
        assert len(fake_github.check_runs) == 1


def test_a_scan_the_queue_refuses_ends_failed(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Redis away when the job is enqueued: 503, and the task's row ends failed (through the
    lifecycle) rather than staying queued for the reconciler."""
    with private_redis(tmp_path) as server:
        url = server.url  # stopped on leaving the block
    running = start_api(make_settings(REDIS_URL=url))
    api = next(running)
    try:
        project = api.project()
        user = api.user(admin=True)
        client = api.client(issue_access_token(api.settings, user.id))
        answer = client.post(f"/api/v1/projects/{project.id}/scans", json={})
        assert answer.status_code == 503, answer.text
        [task] = client.get("/api/v1/tasks", params={"project_id": project.id}).json()["items"]
        assert (task["status"], task["error"]) == ("failed", "the queue did not accept the job")
        assert task["finished_at"] is not None
    finally:
        running.close()


def test_retry_runs_a_finished_scan_again(api: Api) -> None:
    project = api.project()
    client = api.as_user(api.user(admin=True))
    first = api.task(project, kind="repository", status="failed", head_ref="main")
    running = api.task(project, kind="repository", status="running", head_ref="main")
    assert client.post(f"/api/v1/tasks/{running.id}/retry").status_code == 409
    answer = client.post(f"/api/v1/tasks/{first.id}/retry")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["task"]["id"] != first.id
    assert _job(api, body["job_id"])["a"][0]["retry_of"] == first.id


def test_retry_of_a_pr_review_uses_the_contract_payload(api: Api) -> None:
    installation = api.installation()
    project = api.project("acme/web", installation_id=installation.id)
    client = api.as_user(api.user(admin=True))
    old = api.task(project, kind="review", status="failed", pr_number=7, head_sha="c" * 40,
                   head_ref="feature", base_ref="main")
    answer = client.post(f"/api/v1/tasks/{old.id}/retry")
    assert answer.status_code == 202, answer.text
    assert answer.json()["task"] is None
    job = _job(api, answer.json()["job_id"])
    assert job["f"] == "review_pull_request"
    payload = job["a"][0]
    assert payload["repository"]["full_name"] == "acme/web"
    assert payload["repository"]["installation_id"] == installation.external_id
    assert (payload["number"], payload["head_sha"]) == (7, "c" * 40)


def test_retry_that_cannot_work_is_a_conflict_not_try_later(api: Api) -> None:
    client = api.as_user(api.user(admin=True))
    no_commit = api.task(api.project(), kind="review", status="failed", pr_number=1)
    local = api.task(api.project("/srv/repo", kind="local"), kind="push", status="failed",
                     base_sha="a" * 40, head_sha="b" * 40)
    for task in (no_commit, local):
        answer = client.post(f"/api/v1/tasks/{task.id}/retry")
        assert answer.status_code == 409, answer.text
        assert "retry-after" not in answer.headers


def test_task_list_paginates_with_totals(api: Api) -> None:
    project = api.project()
    for _ in range(5):
        api.task(project)
    client = api.as_user(api.user(admin=True))
    page = client.get("/api/v1/tasks", params={"limit": 2, "offset": 4}).json()
    assert (len(page["items"]), page["total"], page["limit"], page["offset"]) == (1, 5, 2, 4)
    assert client.get("/api/v1/tasks", params={"limit": 500}).status_code == 422


def test_body_limits_and_media_types(api: Api) -> None:
    client = api.as_user(api.user(admin=True))
    big = client.post("/api/v1/projects", content=b"{" + b" " * 70_000 + b"}",
                      headers={"Content-Type": "application/json"})
    assert big.status_code == 413
    assert big.headers["content-type"] == "application/problem+json"
    form = client.post("/api/v1/projects", content=b"kind=local",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    broken = client.post("/api/v1/projects", content=b"{nope",
                         headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    made = client.post("/api/v1/projects", json={"kind": "archive", "full_name": "uploads"})
    assert made.status_code == 201
    assert made.json()["kind"] == "archive"


def test_local_projects_are_neither_created_nor_scanned_by_the_server(api: Api) -> None:
    """`auditbot review` records local projects; the server cannot reach their path."""
    client = api.as_user(api.user(admin=True))
    made = client.post("/api/v1/projects", json={"kind": "local", "full_name": "/srv/repo"})
    assert made.status_code == 422
    recorded = api.project("/home/dev/app", kind="local")
    scan = client.post(f"/api/v1/projects/{recorded.id}/scans", json={})
    assert scan.status_code == 409
    assert "auditbot review" in scan.json()["detail"]
    assert client.get("/api/v1/tasks", params={"project_id": recorded.id}).json()["total"] == 0


def test_report_url_is_signed_and_opens_that_report_without_an_account(api: Api) -> None:
    project = api.project("acme/shared")
    task = api.task(project)
    api.finding(task, title="Shared finding")
    member = api.user()
    api.grant(member, project)
    body = api.as_user(member).get(f"/api/v1/tasks/{task.id}").json()
    link = body["report_url"]
    assert link.startswith(f"{api.settings.public_url}/reports/{task.id}?token=")
    listed = api.as_user(member).get("/api/v1/tasks").json()["items"][0]["report_url"]
    assert listed.startswith(f"{api.settings.public_url}/reports/{task.id}?token=")
    page = httpx.get(link.replace(api.settings.public_url, api.base))  # no cookie, no header
    assert page.status_code == 200
    assert "Shared finding" in page.text
    other = api.task(project)
    assert httpx.get(link.replace(api.settings.public_url, api.base).replace(
        task.id, other.id)).status_code == 303  # the token opens that one report only
