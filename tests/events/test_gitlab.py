"""GitLab events to jobs, on GitLab's documented examples and real gitlab.com captures."""

from __future__ import annotations

from typing import Any

import pytest

from bot.errors import BadInput
from bot.events.gitlab import gitlab, jobs_for
from bot.events.registry import Delivery
from bot.jobs.contracts import (
    JobRequest,
    Repository,
    ReviewPullRequest,
    RunCommand,
    ScanPush,
    ThreadReply,
)
from tests.events.payloads import gitlab_capture, gitlab_payload

DELIVERY = "f4ad9a5e-5b6a-4d37-9d5c-0b7e4f4b1f7a"


def route(payload: dict[str, Any], slug: str | None = "auditbot") -> list[JobRequest]:
    attributes = payload.get("object_attributes") or {}
    delivery = Delivery("gitlab", payload["object_kind"], attributes.get("action"), DELIVERY, slug)
    return jobs_for(delivery, payload)


def test_documented_merge_request_open() -> None:
    sha = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert route(gitlab_payload("merge_request.open")) == [
        JobRequest(
            "review_pull_request",
            f"review_pull_request:gitlab:1:1:{sha}",
            ReviewPullRequest(
                repository=Repository(
                    forge="gitlab",
                    id=1,
                    full_name="gitlabhq/gitlab-test",
                    default_branch="master",
                    web_url="http://example.com/gitlabhq/gitlab-test",
                ),
                number=1,
                head_sha=sha,
                head_ref="ms-viewport",
                base_ref="master",
                draft=False,
                trigger="merge_request.open",
                delivery_id=DELIVERY,
            ),
        )
    ]


@pytest.mark.parametrize(
    ("action", "project_id", "path", "iid", "sha", "source"),
    [
        (
            "open",
            72081820,
            "demoaccount2-commits-group/test_ci_tmp",
            3,
            "2f7670508b771e7e77839402be8b34b13787aba8",
            "real6543-main-patch-42541",
        ),
        (
            "reopen",
            72081820,
            "demoaccount2-commits-group/test_ci_tmp",
            1,
            "36b5813240a9d2daa29b05046d56a53e18f39a3e",
            "6543-patch-1",
        ),
        (
            "update",
            32059612,
            "anbraten/woodpecker",
            3,
            "c136499ec574e1034b24c5d306de9acda3005367",
            "anbraten-main-patch-05373",
        ),
    ],
)
def test_captured_merge_requests_with_new_code_are_reviewed(
    action: str, project_id: int, path: str, iid: int, sha: str, source: str
) -> None:
    assert route(gitlab_capture("Merge Request Hook", action)) == [
        JobRequest(
            "review_pull_request",
            f"review_pull_request:gitlab:{project_id}:{iid}:{sha}",
            ReviewPullRequest(
                repository=Repository(
                    forge="gitlab",
                    id=project_id,
                    full_name=path,
                    default_branch="main",
                    web_url=f"https://gitlab.com/{path}",
                ),
                number=iid,
                head_sha=sha,
                head_ref=source,
                base_ref="main",
                draft=False,
                trigger=f"merge_request.{action}",
                delivery_id=DELIVERY,
            ),
        )
    ]


def test_an_update_without_new_commits_needs_no_work() -> None:
    payload = gitlab_capture("Merge Request Hook", "update")
    del payload["object_attributes"]["oldrev"]
    assert route(payload) == []


@pytest.mark.parametrize("action", ["merge", "close", "approved"])
def test_other_merge_request_actions_need_no_work(action: str) -> None:
    assert route(gitlab_capture("Merge Request Hook", action)) == []


def test_documented_push_to_the_default_branch_is_scanned() -> None:
    assert route(gitlab_payload("push")) == [
        JobRequest(
            "scan_push",
            "scan_push:gitlab:15:-:da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            ScanPush(
                repository=Repository(
                    forge="gitlab",
                    id=15,
                    full_name="mike/diaspora",
                    default_branch="master",
                    web_url="http://example.com/mike/diaspora",
                ),
                ref="refs/heads/master",
                before="95790bf891e76fee5e1747ab589903a6a1f80f22",
                after="da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
                pusher="jsmith",
                delivery_id=DELIVERY,
            ),
        )
    ]


def test_other_pushes_need_no_work() -> None:
    branch = gitlab_payload("push")
    branch["ref"] = "refs/heads/feature"
    assert route(branch) == []
    deleted = gitlab_payload("push")
    deleted["after"] = "0" * 40
    assert route(deleted) == []


def note(body: str) -> dict[str, Any]:
    payload = gitlab_payload("note.merge_request")
    payload["object_attributes"]["note"] = body
    return payload


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("/audit", "review"),
        ("/audit full", "full"),
        ("/audit cancel", "cancel"),
        ("/audit help", "help"),
        ("@auditbot review", "review"),
    ],
)
def test_merge_request_note_commands(body: str, command: str) -> None:
    assert route(note(body)) == [
        JobRequest(
            "run_command",
            f"run_command:gitlab:5:1:d={DELIVERY}",
            RunCommand(
                repository=Repository(
                    forge="gitlab",
                    id=5,
                    full_name="gitlab-org/gitlab-test",
                    default_branch="master",
                    web_url="http://example.com/gitlab-org/gitlab-test",
                ),
                number=1,
                command=command,  # type: ignore[arg-type]
                author="root",
                author_id=1,
                comment_id=1244,
                head_sha="562e173be03b8ff2efb05345d12df18815438a4b",
                delivery_id=DELIVERY,
            ),
        )
    ]


def test_notes_that_are_not_commands_need_no_work() -> None:
    assert route(gitlab_payload("note.merge_request")) == []  # "This MR needs work."
    edited = note("/audit")
    edited["object_attributes"]["action"] = "update"
    assert route(edited) == []
    system = note("/audit")
    system["object_attributes"]["system"] = True
    assert route(system) == []
    on_issue = note("/audit")
    on_issue["object_attributes"]["noteable_type"] = "Issue"
    del on_issue["merge_request"]
    assert route(on_issue) == []


def thread_note(body: str, note_type: str | None = "DiffNote") -> dict[str, Any]:
    # GitLab adds the note's thread to the hook: "type" and "discussion_id"
    # (doc/user/project/integrations/webhook_events.md, "Comment on a code snippet" et al.).
    payload = note(body)
    payload["object_attributes"].update(type=note_type, discussion_id="6a9c1750b37d")
    return payload


def test_a_note_in_a_thread_becomes_a_thread_job() -> None:
    [job] = route(thread_note("won't fix: only admins reach this"))
    assert job.name == "reply_in_thread"
    assert job.job_id == f"reply_in_thread:gitlab:5:1:d={DELIVERY}"
    assert isinstance(job.payload, ThreadReply)
    assert (job.payload.thread, job.payload.comment_id, job.payload.author) == (
        "6a9c1750b37d", 1244, "root")
    assert job.payload.body == "won't fix: only admins reach this"


def test_plain_notes_and_our_own_notes_are_no_thread_replies() -> None:
    assert route(thread_note("why?", None)) == []
    ours = thread_note("<!-- auditbot:answer 7 -->\nThe input is escaped.")
    assert route(ours) == []
    # A command in a thread is still a command.
    [job] = route(thread_note("/audit ask is this reachable?"))
    assert isinstance(job.payload, RunCommand) and job.payload.command == "ask"


def test_notes_before_gitlab_16_11_have_no_action() -> None:
    old = note("/audit")
    del old["object_attributes"]["action"]
    assert len(route(old)) == 1


@pytest.mark.parametrize(
    ("payload_name", "remove"),
    [
        ("merge_request.open", "object_attributes"),
        ("push", "project"),
        ("note.merge_request", "user"),
    ],
)
def test_a_payload_without_what_its_event_promises_is_bad_input(
    payload_name: str, remove: str
) -> None:
    payload = gitlab_payload(payload_name)
    if payload_name == "note.merge_request":
        payload["object_attributes"]["note"] = "/audit"
    del payload[remove]
    with pytest.raises(BadInput, match=remove):
        route(payload)


def test_the_registry_lists_every_mapping_of_the_issue() -> None:
    assert gitlab.names() == ["merge_request", "note", "push"]
