"""Tasks: list with filters, get, cancel, retry; and starting scans (a ref or a ZIP)."""

from __future__ import annotations

import logging
import secrets
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.exceptions import HTTPException

from bot.config import Settings
from bot.jobs import endings
from bot.jobs.contracts import SCAN_ARCHIVE, SCAN_REPOSITORY, ScanArchive, ScanRepository
from bot.jobs.lifecycle import cancel_from_web
from bot.signing import report_url
from bot.store.models import AuditTask, Project
from bot.web.api.access import get_project, get_task, visible, visible_project_ids
from bot.web.api.jobs import enqueue_forge_rerun, enqueue_scan
from bot.web.api.paging import page_rows
from bot.web.api.schemas import Page, PageQuery, Text, aware
from bot.web.api.spec import Call, Operation

log = logging.getLogger(__name__)

ARCHIVE_LIMIT = 100 * 1024 * 1024
FINISHED = frozenset({"succeeded", "failed", "cancelled", "superseded"})
TaskStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "superseded"]
TaskKind = Literal["review", "push", "repository", "archive", "local"]
TaskId = Field(min_length=1, max_length=64)


class TaskOut(BaseModel):
    id: str
    project_id: int | None
    kind: str
    status: str
    trigger: str
    job_id: str | None
    pr_number: int | None
    base_ref: str | None
    head_ref: str | None
    base_sha: str | None
    head_sha: str | None
    progress: dict[str, Any]
    counts: dict[str, Any]
    findings_count: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    model: str | None
    conclusion: str | None
    partial_reason: str | None
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    report_url: str = Field(description="The report page, with a signed token valid for 90 "
                                        "days: shareable with people who have no account.")


class TaskQuery(PageQuery):
    project_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    status: TaskStatus | None = None
    kind: TaskKind | None = None
    pr_number: int | None = Field(default=None, ge=1, le=2**31 - 1)


class ScanIn(BaseModel):
    ref: Text | None = Field(default=None, min_length=1, max_length=255,
                             description="Branch, tag or commit; the default branch if unset.")


def task_out(task: AuditTask, settings: Settings) -> TaskOut:
    """The task as the API shows it to a caller allowed to read it (routes check first)."""
    return TaskOut(
        id=task.id, project_id=task.project_id, kind=task.kind, status=task.status,
        trigger=task.trigger, job_id=task.job_id, pr_number=task.pr_number,
        base_ref=task.base_ref, head_ref=task.head_ref, base_sha=task.base_sha,
        head_sha=task.head_sha, progress=task.progress or {}, counts=task.counts or {},
        findings_count=task.findings_count or 0, input_tokens=task.input_tokens or 0,
        output_tokens=task.output_tokens or 0, cached_tokens=task.cached_tokens or 0,
        cost_usd=task.cost_usd or 0.0, model=task.model, conclusion=task.conclusion,
        partial_reason=task.partial_reason, error=task.error, attempts=task.attempts or 0,
        created_at=aware(task.created_at) or datetime.now(UTC),
        started_at=aware(task.started_at), finished_at=aware(task.finished_at),
        report_url=report_url(settings, task.id),
    )


async def list_tasks(call: Call) -> Page[TaskOut]:
    query: TaskQuery = call.query
    ids = await visible_project_ids(call.session, call.me)
    where = [visible(AuditTask.project_id, ids)]
    for name in ("project_id", "status", "kind", "pr_number"):
        value = getattr(query, name)
        if value is not None:
            where.append(getattr(AuditTask, name) == value)
    rows, total = await page_rows(call.session, select(AuditTask).where(*where).order_by(
        AuditTask.created_at.desc(), AuditTask.id), query)
    return Page[TaskOut](items=[task_out(t, call.settings) for t, in rows], total=total,
                         limit=query.limit, offset=query.offset)


async def get(call: Call) -> TaskOut:
    return task_out(await get_task(call.session, call.me, call.params["task_id"]), call.settings)


async def cancel(call: Call) -> TaskOut:
    """The task ends here, as every task ends (bot/jobs/lifecycle.py); its arq job is
    aborted (a queued one is dropped, a running one cancelled) and a worker concludes its
    check run, since the web process holds no forge client."""
    task = await get_task(call.session, call.me, call.params["task_id"])
    if task.status in FINISHED:
        raise HTTPException(409, f"the task is already {task.status}")
    await call.session.commit()  # the lifecycle writes the row through its own session
    noun = "Audit" if task.kind == "review" else "Scan"
    ending = endings.cancelled(noun, "cancelled through the API")
    await cancel_from_web(call.sessions, call.redis, task, ending)
    await call.session.refresh(task)
    log.info("task %s cancelled by user %s", task.id, call.me.id)
    return task_out(task, call.settings)


class RetryOut(BaseModel):
    job_id: str
    task: TaskOut | None = Field(
        description="The new task; null for a PR review or push scan, which the worker records."
    )


async def retry(call: Call) -> RetryOut:
    old = await get_task(call.session, call.me, call.params["task_id"])
    if old.status not in FINISHED:
        raise HTTPException(409, "the task has not finished; cancel it first")
    if old.kind in ("review", "push"):
        job_id = await enqueue_forge_rerun(call.session, call.redis, old, call.me.id)
        return RetryOut(job_id=job_id, task=None)
    archive = (old.progress or {}).get("archive_path")
    if old.project_id is None or old.kind not in ("repository", "archive") or (
        old.kind == "archive" and not archive
    ):
        raise HTTPException(409, f"this {old.kind} task cannot be run again from the API")
    task = AuditTask(
        project_id=old.project_id, kind=old.kind, trigger="api", head_ref=old.head_ref,
        progress={"archive_path": archive} if archive else {}, counts={},
    )
    call.session.add(task)
    await call.session.flush()
    payload: ScanRepository | ScanArchive
    if old.kind == "archive":
        payload = ScanArchive(task_id=task.id, project_id=old.project_id,
                              archive_path=str(archive), requested_by=call.me.id, retry_of=old.id)
        await enqueue_scan(call.session, call.sessions, call.redis, task, payload, SCAN_ARCHIVE)
    else:
        payload = ScanRepository(task_id=task.id, project_id=old.project_id,
                                 ref=old.head_ref or "HEAD", requested_by=call.me.id,
                                 retry_of=old.id)
        await enqueue_scan(call.session, call.sessions, call.redis, task, payload, SCAN_REPOSITORY)
    return RetryOut(job_id=task.job_id or "", task=task_out(task, call.settings))


async def start_scan(call: Call) -> TaskOut:
    project = await get_project(call.session, call.me, call.params["project_id"])
    if project.kind == "archive":
        raise HTTPException(409, "an archive project is scanned by uploading a ZIP")
    if project.kind == "local":
        raise HTTPException(409, "a local project is audited with `auditbot review` on the "
                                 "machine that holds it, not by the server")
    ref = call.body.ref or project.default_branch
    task = AuditTask(project_id=project.id, kind="repository", trigger="api", head_ref=ref,
                     progress={}, counts={})
    call.session.add(task)
    await call.session.flush()
    payload = ScanRepository(task_id=task.id, project_id=project.id, ref=ref,
                             requested_by=call.me.id)
    await enqueue_scan(call.session, call.sessions, call.redis, task, payload, SCAN_REPOSITORY)
    return task_out(task, call.settings)


async def upload_archive(call: Call) -> TaskOut:
    project: Project = await get_project(call.session, call.me, call.params["project_id"])
    media = call.request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("application/zip", "application/octet-stream"):
        raise HTTPException(415, "send the ZIP as the raw body (application/zip)")
    folder = Path(call.settings.data_dir) / "archives"
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"upload-{secrets.token_hex(8)}.part"
    try:
        await _receive(call, partial)
        task = AuditTask(project_id=project.id, kind="archive", trigger="api", progress={},
                         counts={})
        call.session.add(task)
        await call.session.flush()
        path = folder / f"{task.id}.zip"
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    task.progress = {"archive_path": str(path.resolve())}
    payload = ScanArchive(task_id=task.id, project_id=project.id,
                          archive_path=str(path.resolve()), requested_by=call.me.id)
    await enqueue_scan(call.session, call.sessions, call.redis, task, payload, SCAN_ARCHIVE)
    return task_out(task, call.settings)


async def _receive(call: Call, target: Path) -> None:
    """Stream the upload to ``target`` (never whole in memory), up to ARCHIVE_LIMIT bytes."""
    declared = call.request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > ARCHIVE_LIMIT:
        raise HTTPException(413, f"the archive exceeds {ARCHIVE_LIMIT} bytes")
    size = 0
    with target.open("wb") as out:
        async for chunk in call.request.stream():
            size += len(chunk)
            if size > ARCHIVE_LIMIT:
                raise HTTPException(413, f"the archive exceeds {ARCHIVE_LIMIT} bytes")
            out.write(chunk)
    with target.open("rb") as head:
        magic = head.read(2)
    if magic != b"PK" or not zipfile.is_zipfile(target):
        raise HTTPException(400, "the body is not a readable ZIP archive")


T = "/api/v1/tasks/{task_id}"
ZIP_CONTENT = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}
OPERATIONS = [
    Operation("GET", "/api/v1/tasks", list_tasks, "List tasks", "tasks", query=TaskQuery,
              response=Page[TaskOut]),
    Operation("GET", T, get, "Get a task", "tasks", response=TaskOut),
    Operation("POST", T + "/cancel", cancel, "Cancel a queued or running task", "tasks",
              response=TaskOut, extra_statuses=(409,)),
    Operation("POST", T + "/retry", retry, "Run a finished task again", "tasks",
              response=RetryOut, status=202, extra_statuses=(409, 503)),
    Operation("POST", "/api/v1/projects/{project_id:int}/scans", start_scan,
              "Scan a project at a ref", "scans", body=ScanIn, response=TaskOut, status=202,
              extra_statuses=(409, 503)),
    Operation("POST", "/api/v1/projects/{project_id:int}/archives", upload_archive,
              "Upload a ZIP to scan", "scans", response=TaskOut, status=202,
              request_content=ZIP_CONTENT, body_limit=ARCHIVE_LIMIT, extra_statuses=(503,)),
]
