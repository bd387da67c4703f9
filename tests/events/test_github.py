"""GitHub events to jobs, on @octokit/webhooks-examples payloads, with the exact jobs."""

from __future__ import annotations

from typing import Any

import pytest

from bot.errors import BadInput
from bot.events.github import github, jobs_for
from bot.events.registry import Delivery
from bot.jobs.contracts import (
    CodeScanningAlertEvent,
    InstallationRepository,
    JobRequest,
    Repository,
    ReviewPullRequest,
    RunCommand,
    ScanPush,
    SyncInstallation,
    ThreadReply,
)
from tests.events.payloads import github_payload

HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
BASE = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def hello_world(installation_id: int | None) -> Repository:
    return Repository(
        forge="github",
        id=186853002,
        full_name="Codertocat/Hello-World",
        default_branch="master",
        installation_id=installation_id,
        web_url="https://github.com/Codertocat/Hello-World",
    )


def route(
    name: str, payload: dict[str, Any] | None = None, slug: str | None = "auditbot"
) -> list[JobRequest]:
    payload = payload if payload is not None else github_payload(name)
    event = name.partition(".")[0]
    delivery = Delivery("github", event, payload.get("action"), DELIVERY, slug)
    return jobs_for(delivery, payload)


@pytest.mark.parametrize(
    ("name", "installation_id"),
    [
        ("pull_request.opened", None),
        ("pull_request.reopened", 1),
        ("pull_request.synchronize", 1),
        ("pull_request.ready_for_review", None),
    ],
)
def test_pull_request_actions_review(name: str, installation_id: int | None) -> None:
    assert route(name) == [
        JobRequest(
            "review_pull_request",
            f"review_pull_request:github:186853002:2:{HEAD}",
            ReviewPullRequest(
                repository=hello_world(installation_id),
                number=2,
                head_sha=HEAD,
                head_ref="changes",
                base_ref="master",
                base_sha=BASE,
                author="Codertocat",
                draft=False,
                trigger=name,
                delivery_id=DELIVERY,
            ),
        )
    ]


def test_a_draft_is_queued_under_its_own_id_for_the_worker_to_skip() -> None:
    payload = github_payload("pull_request.opened")
    payload["pull_request"]["draft"] = True
    [job] = route("pull_request.opened", payload)
    assert job.job_id == f"review_pull_request:github:186853002:2:{HEAD}:draft"
    assert isinstance(job.payload, ReviewPullRequest) and job.payload.draft is True


@pytest.mark.parametrize("name", ["pull_request.closed", "pull_request.converted_to_draft"])
def test_other_pull_request_actions_need_no_work(name: str) -> None:
    assert route(name) == []


def test_a_closed_pull_request_is_never_reviewed() -> None:
    payload = github_payload("pull_request.reopened")
    payload["pull_request"]["state"] = "closed"
    assert route("pull_request.reopened", payload) == []


def test_push_to_the_default_branch_is_scanned() -> None:
    assert route("push") == [
        JobRequest(
            "scan_push",
            "scan_push:github:186853002:-:6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            ScanPush(
                repository=hello_world(1),
                ref="refs/heads/master",
                before="0000000000000000000000000000000000000000",
                after="6113728f27ae82c7b1a177c8d03f9e96e0adf246",
                pusher="Codertocat",
                delivery_id=DELIVERY,
            ),
        )
    ]


def test_pushes_elsewhere_need_no_work() -> None:
    assert route("push", github_payload("push.tag")) == []
    other_branch = github_payload("push")
    other_branch["ref"] = "refs/heads/feature"
    assert route("push", other_branch) == []
    deleted = github_payload("push")
    deleted.update(deleted=True, after="0" * 40)
    assert route("push", deleted) == []


def test_check_run_rerun_without_pull_requests_names_the_sha() -> None:
    # GitHub's example (like a PR from a fork) lists no pull request.
    assert route("check_run.rerequested") == [
        JobRequest(
            "review_pull_request",
            f"review_pull_request:github:526:-:d={DELIVERY}",
            ReviewPullRequest(
                repository=Repository(
                    forge="github",
                    id=526,
                    full_name="github/hello-world",
                    default_branch="master",
                    installation_id=1,
                    web_url="http://github.com/github/hello-world",
                ),
                number=None,
                head_sha="d6fde92930d4715a2b49857d24b940956b26d2d3",
                trigger="check_run.rerequested",
                requested_by="octocat",
                delivery_id=DELIVERY,
            ),
        )
    ]


def test_check_suite_rerun_reviews_each_pull_request_again() -> None:
    assert route("check_suite.rerequested") == [
        JobRequest(
            "review_pull_request",
            f"review_pull_request:github:186853002:2:d={DELIVERY}",
            ReviewPullRequest(
                repository=hello_world(957387),
                number=2,
                head_sha=HEAD,
                head_ref="changes",
                base_ref="master",
                base_sha=BASE,
                trigger="check_suite.rerequested",
                requested_by="octocoders-linter[bot]",
                delivery_id=DELIVERY,
            ),
        )
    ]


@pytest.mark.parametrize("name", ["check_run.completed", "check_suite.requested"])
def test_other_check_events_need_no_work(name: str) -> None:
    assert route(name) == []


def pr_comment(body: str, association: str = "MEMBER") -> dict[str, Any]:
    """GitHub's issue_comment.created example, moved onto a pull request."""
    payload = github_payload("issue_comment.created")
    payload["issue"]["pull_request"] = {
        "url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"
    }
    payload["comment"]["body"] = body
    payload["comment"]["author_association"] = association
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
@pytest.mark.parametrize("association", ["OWNER", "MEMBER", "COLLABORATOR"])
def test_commands_from_trusted_people(body: str, command: str, association: str) -> None:
    assert route("issue_comment.created", pr_comment(body, association)) == [
        JobRequest(
            "run_command",
            f"run_command:github:186853002:1:d={DELIVERY}",
            RunCommand(
                repository=hello_world(None),
                number=1,
                command=command,  # type: ignore[arg-type]
                author="Codertocat",
                author_id=21031067,
                author_association=association,
                pr_author="Codertocat",
                comment_id=492700400,
                delivery_id=DELIVERY,
            ),
        )
    ]


@pytest.mark.parametrize(
    "association", ["CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "MANNEQUIN", "NONE"]
)
def test_commands_from_anyone_else_are_silently_ignored(association: str) -> None:
    assert route("issue_comment.created", pr_comment("/audit", association)) == []


def test_the_pull_requests_author_may_ask_without_being_a_collaborator() -> None:
    # Codertocat opened the pull request; as a CONTRIBUTOR it may ask, not command.
    [job] = route("issue_comment.created", pr_comment("/audit ask why is\nthis safe?", "NONE"))
    assert isinstance(job.payload, RunCommand)
    assert job.payload.command == "ask" and job.payload.argument == "why is\nthis safe?"
    assert job.payload.pr_author == "Codertocat"
    assert route("issue_comment.created", pr_comment("/audit", "NONE")) == []
    someone_else = pr_comment("/audit ask why?", "NONE")
    someone_else["comment"]["user"]["login"] = "mallory"
    assert route("issue_comment.created", someone_else) == []


def test_bots_never_talk_to_auditbot() -> None:
    for login in ("auditbot[bot]", "renovate[bot]"):
        payload = pr_comment("/audit ask anything?", "MEMBER")
        payload["comment"]["user"].update(login=login, type="Bot")
        assert route("issue_comment.created", payload) == []


def review_reply(body: str, in_reply_to: int | None = 426899381) -> dict[str, Any]:
    payload = github_payload("pull_request_review_comment.created")
    payload["comment"]["body"] = body
    payload["comment"]["in_reply_to_id"] = in_reply_to
    return payload


def test_a_reply_in_a_review_thread_becomes_a_thread_job() -> None:
    assert route("pull_request_review_comment.created", review_reply("false positive")) == [
        JobRequest(
            "reply_in_thread",
            f"reply_in_thread:github:186853002:2:d={DELIVERY}",
            ThreadReply(
                repository=hello_world(None),
                number=2,
                thread="426899381",
                comment_id=284312630,
                body="false positive",
                author="Codertocat",
                author_id=21031067,
                pr_author="Codertocat",
                delivery_id=DELIVERY,
            ),
        )
    ]


def test_new_threads_empty_replies_and_bots_replies_need_no_work() -> None:
    assert route("pull_request_review_comment.created", review_reply("hm", None)) == []
    assert route("pull_request_review_comment.created", review_reply("  \n")) == []
    bot = review_reply("false positive")
    bot["comment"]["user"].update(login="auditbot[bot]", type="Bot")
    assert route("pull_request_review_comment.created", bot) == []
    edited = review_reply("false positive")
    edited["action"] = "edited"
    assert route("pull_request_review_comment.edited", edited) == []


def alert_event(tool: str = "auditbot-llm") -> dict[str, Any]:
    payload = github_payload("code_scanning_alert.closed_by_user")
    payload["alert"]["tool"]["name"] = tool
    payload["alert"]["dismissed_comment"] = "only reachable from tests"
    return payload


def test_a_dismissal_in_the_security_tab_reaches_triage() -> None:
    [job] = route("code_scanning_alert.closed_by_user", alert_event())
    assert job.name == "code_scanning_alert"
    assert job.payload == CodeScanningAlertEvent(
        repository=hello_world(14662836).model_copy(update={"id": 337911632}),
        action="closed_by_user",
        alert_number=10,
        state="dismissed",
        dismissed_reason="false positive",
        dismissed_comment="only reachable from tests",
        tool="auditbot-llm",
        sender="Codertocat",
        delivery_id=DELIVERY,
    )


def test_other_tools_alerts_and_our_own_dismissals_need_no_work() -> None:
    assert route("code_scanning_alert.closed_by_user", alert_event("CodeQL")) == []
    ours = alert_event()
    ours["sender"].update(login="auditbot[bot]", type="Bot")
    assert route("code_scanning_alert.closed_by_user", ours) == []


def test_comments_that_are_not_commands_or_not_on_pull_requests_need_no_work() -> None:
    assert route("issue_comment.created", pr_comment("LGTM, thanks")) == []
    on_issue = github_payload("issue_comment.created")
    on_issue["comment"]["body"] = "/audit"
    assert route("issue_comment.created", on_issue) == []
    edited = pr_comment("/audit")
    edited["action"] = "edited"
    assert route("issue_comment.edited", edited) == []


def test_our_own_apps_events_start_nothing() -> None:
    payload = github_payload("pull_request.opened")
    payload["sender"].update(login="auditbot[bot]", type="Bot")
    assert route("pull_request.opened", payload) == []
    # Another bot (a dependency updater) is reviewed; its config decides, in the worker.
    payload["sender"].update(login="dependabot[bot]", type="Bot")
    assert len(route("pull_request.opened", payload)) == 1
    # A suite re-run our own app asked for is ignored; the same from another app is not.
    assert route("check_suite.rerequested", slug="octocoders-linter") == []
    assert len(route("check_suite.rerequested", slug="auditbot")) == 1


@pytest.mark.parametrize(
    ("name", "repositories"),
    [
        ("installation.created", [(186853002, "Codertocat/Hello-World")]),
        ("installation.new_permissions_accepted", [(186853002, "Codertocat/Hello-World")]),
        ("installation.suspend", []),
        ("installation.unsuspend", []),
    ],
)
def test_installation_events_sync_the_records(name: str, repositories: list[Any]) -> None:
    payload = github_payload(name)
    installation_id = payload["installation"]["id"]
    assert route(name) == [
        JobRequest(
            "sync_installation",
            f"sync_installation:github:{installation_id}:-:d={DELIVERY}",
            SyncInstallation(
                event="installation",
                action=name.split(".")[1],
                installation_id=installation_id,
                account_login="Codertocat",
                account_id=21031067,
                account_type="User",
                repository_selection=payload["installation"]["repository_selection"],
                repositories=[InstallationRepository(id=i, full_name=n) for i, n in repositories],
                sender="Codertocat",
                delivery_id=DELIVERY,
            ),
        )
    ]


def test_installation_deleted() -> None:
    [job] = route("installation.deleted")
    assert job.job_id == f"sync_installation:github:2:-:d={DELIVERY}"
    assert job.payload == SyncInstallation(
        event="installation",
        action="deleted",
        installation_id=2,
        account_login="octocat",
        account_id=1,
        account_type="User",
        repository_selection="selected",
        repositories=[InstallationRepository(id=1296269, full_name="octocat/Hello-World")],
        sender="octocat",
        delivery_id=DELIVERY,
    )


def test_installation_repositories_added_and_removed() -> None:
    [added] = route("installation_repositories.added")
    assert added == JobRequest(
        "sync_installation",
        f"sync_installation:github:957387:-:d={DELIVERY}",
        SyncInstallation(
            event="installation_repositories",
            action="added",
            installation_id=957387,
            account_login="Codertocat",
            account_id=21031067,
            account_type="User",
            repository_selection="selected",
            added=[InstallationRepository(id=186853007, full_name="Codertocat/Space")],
            sender="Codertocat",
            delivery_id=DELIVERY,
        ),
    )
    [removed] = route("installation_repositories.removed")
    assert isinstance(removed.payload, SyncInstallation)
    assert removed.payload.removed == [
        InstallationRepository(id=1296269, full_name="octocat/Hello-World")
    ]
    assert removed.payload.added == []


def test_unlisted_events_need_no_work() -> None:
    assert route("ping") == []


@pytest.mark.parametrize(
    ("name", "remove"),
    [
        ("pull_request.opened", "pull_request"),
        ("pull_request.synchronize", "repository"),
        ("push", "after"),
        ("check_run.rerequested", "check_run"),
        ("issue_comment.created", "comment"),
        ("installation.created", "installation"),
    ],
)
def test_a_payload_without_what_its_event_promises_is_bad_input(name: str, remove: str) -> None:
    payload = github_payload(name)
    del payload[remove]
    with pytest.raises(BadInput, match=remove):
        route(name, payload)


def test_the_registry_lists_every_mapping_of_the_issue() -> None:
    assert github.names() == sorted(
        [
            "pull_request.opened",
            "pull_request.reopened",
            "pull_request.synchronize",
            "pull_request.ready_for_review",
            "push",
            "check_run.rerequested",
            "check_suite.rerequested",
            "issue_comment.created",
            "pull_request_review_comment.created",
            "code_scanning_alert.closed_by_user",
            "code_scanning_alert.reopened_by_user",
            "installation.created",
            "installation.deleted",
            "installation.suspend",
            "installation.unsuspend",
            "installation.new_permissions_accepted",
            "installation_repositories.added",
            "installation_repositories.removed",
        ]
    )
