"""GitLab deliveries to jobs: pure handlers registered on :data:`gitlab`.

GitLab names an event in ``X-Gitlab-Event`` ("Merge Request Hook") and again in the body's
``object_kind`` ("merge_request"); the web process checks they agree and routes on
``object_kind`` plus ``object_attributes.action``. Permission checks (Developer access for a
command) are the worker's: they need GitLab's API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

from bot.events.commands import parse_command
from bot.events.gitlab_models import (
    GitLabEvent,
    MergeRequestEvent,
    NoteEvent,
    Project,
    PushEvent,
)
from bot.events.registry import Delivery, Registry
from bot.forges.base import ZERO_SHA
from bot.jobs.contracts import (
    REPLY_IN_THREAD,
    REVIEW_PULL_REQUEST,
    RUN_COMMAND,
    SCAN_PUSH,
    TEXT_LIMIT,
    JobRequest,
    Repository,
    ReviewPullRequest,
    RunCommand,
    ScanPush,
    ThreadReply,
    automatic_job_id,
    requested_job_id,
)

gitlab = Registry("gitlab")

# Notes that belong to a thread; auditbot's findings start DiffNote threads.
THREAD_NOTE_TYPES: Final = frozenset({"DiffNote", "DiscussionNote"})
# Our own notes carry hidden markers (bot/forges/base.py); they never start work.
OUR_MARKER: Final = "<!-- auditbot:"

# X-Gitlab-Event values and the object_kind each one promises. A header not listed here
# (Pipeline Hook, System Hook, ...) starts no work and is answered 200.
EVENT_KINDS: Final[dict[str, str]] = {
    "Merge Request Hook": "merge_request",
    "Push Hook": "push",
    "Note Hook": "note",
}


def parse(kind: str, body: bytes) -> GitLabEvent | None:
    """A verified delivery's body as its object_kind's model (see ``Registry.parse``)."""
    return cast("GitLabEvent | None", gitlab.parse(kind, body))


def jobs_for(delivery: Delivery, payload: Mapping[str, Any] | GitLabEvent) -> list[JobRequest]:
    """Every job a verified GitLab delivery asks for; [] when it needs no work."""
    event = gitlab.validate(delivery.event, payload)
    return [] if event is None else gitlab.route(delivery, event)


def _repository(project: Project) -> Repository:
    return Repository(
        forge="gitlab",
        id=project.id,
        full_name=project.path_with_namespace,
        default_branch=project.default_branch,
        web_url=project.web_url,
    )


# Every merge request event is validated (one without object_attributes is a 400), then
# only these actions start work.
REVIEW_ACTIONS: Final = ("open", "reopen", "update")


@gitlab.on("merge_request", model=MergeRequestEvent)
def review_merge_request(delivery: Delivery, event: MergeRequestEvent) -> list[JobRequest]:
    mr = event.object_attributes
    if mr.action not in REVIEW_ACTIONS:
        return []  # close, merge, approved, approval, unapproved, unapproval
    if mr.action == "update" and not mr.oldrev:
        return []  # a title, label or reviewer change: no new commits, nothing to audit
    if mr.state != "opened":
        return []
    repository = _repository(event.project)
    draft = bool(mr.draft or mr.work_in_progress)
    sha = mr.last_commit.id
    job = ReviewPullRequest(
        repository=repository,
        number=mr.iid,
        head_sha=sha,
        head_ref=mr.source_branch,
        base_ref=mr.target_branch,
        draft=draft,
        trigger=f"merge_request.{mr.action}",
        delivery_id=delivery.delivery_id,
    )
    job_id = automatic_job_id(
        REVIEW_PULL_REQUEST,
        "gitlab",
        repository.id,
        mr.iid,
        sha,
        variant="draft" if draft else None,
    )
    return [JobRequest(REVIEW_PULL_REQUEST, job_id, job)]


@gitlab.on("push", model=PushEvent)
def scan_push(delivery: Delivery, event: PushEvent) -> list[JobRequest]:
    default = event.project.default_branch
    if event.after == ZERO_SHA or not default or event.ref != f"refs/heads/{default}":
        return []
    repository = _repository(event.project)
    job = ScanPush(
        repository=repository,
        ref=event.ref,
        before=event.before,
        after=event.after,
        pusher=event.user_username,
        delivery_id=delivery.delivery_id,
    )
    job_id = automatic_job_id(SCAN_PUSH, "gitlab", repository.id, None, event.after)
    return [JobRequest(SCAN_PUSH, job_id, job)]


@gitlab.on("note", model=NoteEvent)
def note_command(delivery: Delivery, event: NoteEvent) -> list[JobRequest]:
    note = event.object_attributes
    if note.noteable_type != "MergeRequest" or event.merge_request is None:
        return []
    if note.system or note.action not in (None, "create"):
        return []  # GitLab's own notes and edited comments never command the bot
    if OUR_MARKER in (note.note or ""):
        return []  # our own summary, finding or answer (the worker checks the author too)
    command = parse_command(note.note, delivery.app_slug)
    mr = event.merge_request
    repository = _repository(event.project)
    if command is None:
        return _thread_reply(delivery, event, repository)
    job = RunCommand(
        repository=repository,
        number=mr.iid,
        command=command.name,
        argument=command.argument,
        author=event.user.username,
        author_id=event.user.id,
        comment_id=note.id,
        head_sha=mr.last_commit.id if mr.last_commit else None,
        delivery_id=delivery.delivery_id,
    )
    job_id = requested_job_id(RUN_COMMAND, "gitlab", repository.id, mr.iid, delivery.delivery_id)
    return [JobRequest(RUN_COMMAND, job_id, job)]


def _thread_reply(delivery: Delivery, event: NoteEvent, repository: Repository) -> list[JobRequest]:
    """A note in a thread; the worker answers only in threads auditbot started."""
    note = event.object_attributes
    mr = event.merge_request
    if mr is None or note.type not in THREAD_NOTE_TYPES or not note.discussion_id:
        return []
    if not (note.note or "").strip():
        return []
    job = ThreadReply(
        repository=repository,
        number=mr.iid,
        thread=note.discussion_id,
        comment_id=note.id,
        body=(note.note or "")[:TEXT_LIMIT],
        author=event.user.username,
        author_id=event.user.id,
        delivery_id=delivery.delivery_id,
    )
    job_id = requested_job_id(
        REPLY_IN_THREAD, "gitlab", repository.id, mr.iid, delivery.delivery_id
    )
    return [JobRequest(REPLY_IN_THREAD, job_id, job)]
