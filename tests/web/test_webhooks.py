"""`POST /webhooks/github` and `/webhooks/gitlab` in-process against real Redis: the answers
of DESIGN.md's contract and exactly what reaches the queue."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.events.payloads import github_payload, gitlab_capture, gitlab_payload
from tests.events.webhook_client import (
    GITLAB_PREVIOUS_SECRET,
    GITLAB_SECRET,
    PREVIOUS_SECRET,
    WEBHOOK_ENV,
    QueueView,
    SettingsFactory,
    encode,
    github_headers,
    gitlab_headers,
    post_github,
    post_gitlab,
    running_app,
    sign,
)

HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
LIMIT = 25 * 1024 * 1024


@pytest.fixture
def queue(redis_url: str) -> Iterator[QueueView]:
    view = QueueView(redis_url)
    yield view
    view.close()


@pytest.fixture
async def client(
    make_settings: SettingsFactory, redis_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(REDIS_URL=redis_url, **WEBHOOK_ENV)
    async with running_app(settings) as (_, client):
        yield client


def queued_job(queue: QueueView, job_id: str) -> dict[str, Any]:
    raw = queue.client.get(f"arq:job:{job_id}")
    assert raw is not None, f"no job {job_id}"
    data: dict[str, Any] = pickle.loads(raw)
    return data


def assert_problem(response: httpx.Response, status: int, detail_part: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert b"\n" not in response.content  # one line of JSON
    body = response.json()
    assert body["status"] == status and detail_part in body["detail"], body


# The contract's happy paths ------------------------------------------------------------


async def test_pull_request_opened_is_queued_once(
    client: httpx.AsyncClient, queue: QueueView
) -> None:
    payload = github_payload("pull_request.opened")
    response = await post_github(client, "pull_request", payload, delivery="d-opened")
    job_id = f"review_pull_request:github:186853002:2:{HEAD}"
    assert response.status_code == 202
    assert response.json() == {"status": "queued", "jobs": [job_id]}
    assert queue.job_ids() == [job_id]
    job = queued_job(queue, job_id)
    assert job["f"] == "review_pull_request" and job["k"] == {}
    assert job["a"] == (
        {
            "repository": {
                "forge": "github",
                "id": 186853002,
                "full_name": "Codertocat/Hello-World",
                "default_branch": "master",
                "installation_id": None,
                "web_url": "https://github.com/Codertocat/Hello-World",
            },
            "number": 2,
            "head_sha": HEAD,
            "head_ref": "changes",
            "base_ref": "master",
            "base_sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
            "author": "Codertocat",
            "draft": False,
            "trigger": "pull_request.opened",
            "requested_by": None,
            "delivery_id": "d-opened",
        },
    )
    assert queue.deliveries() == ["auditbot:delivery:github:d-opened"]

    again = await post_github(client, "pull_request", payload, delivery="d-opened")
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    # Another delivery for the same head SHA: arq already has that work.
    other = await post_github(client, "pull_request", payload, delivery="d-other")
    assert other.status_code == 200 and other.json()["status"] == "already_queued"
    assert queue.job_ids() == [job_id]


@pytest.mark.parametrize(
    ("event", "fixture", "job_id"),
    [
        ("pull_request", "pull_request.reopened", f"review_pull_request:github:186853002:2:{HEAD}"),
        (
            "pull_request",
            "pull_request.synchronize",
            f"review_pull_request:github:186853002:2:{HEAD}",
        ),
        (
            "pull_request",
            "pull_request.ready_for_review",
            f"review_pull_request:github:186853002:2:{HEAD}",
        ),
        ("push", "push", "scan_push:github:186853002:-:6113728f27ae82c7b1a177c8d03f9e96e0adf246"),
        ("check_run", "check_run.rerequested", "review_pull_request:github:526:-:d=D"),
        ("check_suite", "check_suite.rerequested", "review_pull_request:github:186853002:2:d=D"),
        ("installation", "installation.created", "sync_installation:github:957387:-:d=D"),
        ("installation", "installation.deleted", "sync_installation:github:2:-:d=D"),
        ("installation", "installation.suspend", "sync_installation:github:16598467:-:d=D"),
        ("installation", "installation.unsuspend", "sync_installation:github:16598467:-:d=D"),
        (
            "installation",
            "installation.new_permissions_accepted",
            "sync_installation:github:957387:-:d=D",
        ),
        (
            "installation_repositories",
            "installation_repositories.added",
            "sync_installation:github:957387:-:d=D",
        ),
        (
            "installation_repositories",
            "installation_repositories.removed",
            "sync_installation:github:2:-:d=D",
        ),
    ],
)
async def test_listed_github_events_queue_their_job(
    client: httpx.AsyncClient, queue: QueueView, event: str, fixture: str, job_id: str
) -> None:
    response = await post_github(client, event, github_payload(fixture), delivery="D")
    assert response.status_code == 202, response.text
    assert queue.job_ids() == [job_id]
    assert queued_job(queue, job_id)["f"] == job_id.split(":")[0]


async def test_a_command_from_a_member_is_queued_and_from_others_ignored(
    client: httpx.AsyncClient, queue: QueueView
) -> None:
    payload = github_payload("issue_comment.created")
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/o/r/pulls/1"}
    payload["comment"].update(body="/audit full", author_association="NONE")
    ignored = await post_github(client, "issue_comment", payload, delivery="c-1")
    assert ignored.status_code == 200 and queue.nothing_queued()

    payload["comment"]["author_association"] = "MEMBER"
    response = await post_github(client, "issue_comment", payload, delivery="c-2")
    assert response.status_code == 202
    assert queue.job_ids() == ["run_command:github:186853002:1:d=c-2"]
    assert queued_job(queue, "run_command:github:186853002:1:d=c-2")["a"][0]["command"] == "full"
    # The same person asking again is new work, even while arq remembers the first job.
    response = await post_github(client, "issue_comment", payload, delivery="c-3")
    assert response.status_code == 202 and len(queue.job_ids()) == 2


@pytest.mark.parametrize(
    ("event", "fixture"),
    [
        ("pull_request", "pull_request.closed"),
        ("ping", "ping"),
        ("push", "push.tag"),
        ("check_run", "check_run.completed"),
        ("issue_comment", "issue_comment.edited"),
    ],
)
async def test_events_that_need_no_work_get_200_and_touch_nothing(
    client: httpx.AsyncClient, queue: QueueView, event: str, fixture: str
) -> None:
    response = await post_github(client, event, github_payload(fixture))
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert queue.nothing_queued()


async def test_our_own_apps_events_are_ignored(client: httpx.AsyncClient, queue: QueueView) -> None:
    payload = github_payload("pull_request.synchronize")
    payload["sender"].update(login="auditbot[bot]", type="Bot")
    response = await post_github(client, "pull_request", payload)
    assert response.status_code == 200 and queue.nothing_queued()


async def test_the_previous_secret_is_accepted_during_a_rotation(
    client: httpx.AsyncClient, queue: QueueView
) -> None:
    payload = github_payload("pull_request.opened")
    response = await post_github(client, "pull_request", payload, secret=PREVIOUS_SECRET)
    assert response.status_code == 202 and len(queue.job_ids()) == 1


async def test_gitlabs_previous_token_is_accepted_during_a_rotation(
    client: httpx.AsyncClient, queue: QueueView
) -> None:
    payload = gitlab_payload("merge_request.open")
    response = await post_gitlab(
        client, "Merge Request Hook", payload, token=GITLAB_PREVIOUS_SECRET
    )
    assert response.status_code == 202 and len(queue.job_ids()) == 1
    wrong = await post_gitlab(client, "Merge Request Hook", payload, token="not-either-token")
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("event", "payload_name", "job_id"),
    [
        (
            "Merge Request Hook",
            "merge_request.open",
            "review_pull_request:gitlab:1:1:da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        ),
        ("Push Hook", "push", "scan_push:gitlab:15:-:da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
    ],
)
async def test_documented_gitlab_events_queue_their_job(
    client: httpx.AsyncClient, queue: QueueView, event: str, payload_name: str, job_id: str
) -> None:
    response = await post_gitlab(client, event, gitlab_payload(payload_name), delivery="g-1")
    assert response.status_code == 202, response.text
    assert queue.job_ids() == [job_id]
    again = await post_gitlab(client, event, gitlab_payload(payload_name), delivery="g-1")
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}


async def test_gitlab_note_command_and_idempotency_key(
    client: httpx.AsyncClient, queue: QueueView
) -> None:
    payload = gitlab_payload("note.merge_request")
    payload["object_attributes"]["note"] = "/audit"
    body = encode(payload)
    headers = gitlab_headers("Note Hook", delivery="uuid-1") | {"Idempotency-Key": "idem-1"}
    response = await client.post("/webhooks/gitlab", content=body, headers=headers)
    assert response.status_code == 202
    assert queue.job_ids() == ["run_command:gitlab:5:1:d=idem-1"]
    # A retry keeps its Idempotency-Key; the per-attempt UUID may change.
    headers = gitlab_headers("Note Hook", delivery="uuid-2") | {"Idempotency-Key": "idem-1"}
    retry = await client.post("/webhooks/gitlab", content=body, headers=headers)
    assert retry.status_code == 200 and len(queue.job_ids()) == 1


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("open", 202),
        ("update", 202),
        ("reopen", 202),
        ("merge", 200),
        ("close", 200),
        ("approved", 200),
    ],
)
async def test_captured_gitlab_merge_requests(
    client: httpx.AsyncClient, queue: QueueView, action: str, status: int
) -> None:
    response = await post_gitlab(
        client, "Merge Request Hook", gitlab_capture("Merge Request Hook", action)
    )
    assert response.status_code == status, response.text
    assert len(queue.job_ids()) == (1 if status == 202 else 0)


async def test_gitlab_hooks_we_do_not_use_get_200(
    client: httpx.AsyncClient, queue: QueueView
) -> None:
    response = await post_gitlab(client, "Release Hook", gitlab_capture("Release Hook"))
    assert response.status_code == 200 and queue.nothing_queued()


async def test_five_copies_at_once_on_five_web_processes_make_one_job(
    make_settings: SettingsFactory, redis_url: str, queue: QueueView
) -> None:
    settings = make_settings(REDIS_URL=redis_url, **WEBHOOK_ENV)
    body = encode(github_payload("pull_request.opened"))
    headers = github_headers("pull_request", body, delivery="same-delivery")
    apps = [running_app(settings) for _ in range(5)]
    clients = [await app.__aenter__() for app in apps]
    try:
        responses = await asyncio.gather(
            *(c.post("/webhooks/github", content=body, headers=headers) for _, c in clients)
        )
    finally:
        for app in apps:
            await app.__aexit__(None, None, None)
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 202]
    assert len(queue.job_ids()) == 1


async def test_deliveries_are_counted_by_forge_event_and_outcome(
    client: httpx.AsyncClient,
) -> None:
    def count(text: str, outcome: str) -> float:
        prefix = (
            'auditbot_webhook_deliveries_total{event="pull_request",forge="github",'
            f'outcome="{outcome}"}} '
        )
        lines = [line for line in text.splitlines() if line.startswith(prefix)]
        return float(lines[0].removeprefix(prefix)) if lines else 0.0

    before = (await client.get("/metrics")).text
    await post_github(client, "pull_request", github_payload("pull_request.opened"), delivery="m")
    await post_github(client, "pull_request", github_payload("pull_request.opened"), delivery="m")
    after = (await client.get("/metrics")).text
    assert count(after, "enqueued") == count(before, "enqueued") + 1
    assert count(after, "duplicate") == count(before, "duplicate") + 1


# Bad input: each gets its documented answer and nothing reaches Redis -----------------


def _pr_body() -> bytes:
    return encode(github_payload("pull_request.opened"))


def _without_pull_request() -> bytes:
    payload = github_payload("pull_request.opened")
    del payload["pull_request"]
    return encode(payload)


GITHUB_BAD = {
    "no signature": (
        401,
        "missing X-Hub-Signature-256",
        lambda b, h: (b, h - {"X-Hub-Signature-256"}),
    ),
    "wrong signature": (
        401,
        "secrets must match",
        lambda b, h: (b, h | {"X-Hub-Signature-256": sign(b, "wrong-secret")}),
    ),
    "signature of another body": (
        401,
        "secrets must match",
        lambda b, h: (b, h | {"X-Hub-Signature-256": sign(b + b" ")}),
    ),
    "not hex": (
        401,
        "secrets must match",
        lambda b, h: (b, h | {"X-Hub-Signature-256": "sha256=zz"}),
    ),
    "sha1 only": (
        401,
        "X-Hub-Signature-256",
        lambda b, h: (b, (h - {"X-Hub-Signature-256"}) | {"X-Hub-Signature": "sha1=" + "0" * 40}),
    ),
    "missing event header": (400, "X-GitHub-Event", lambda b, h: (b, h - {"X-GitHub-Event"})),
    "form content type": (
        400,
        "application/json",
        lambda b, h: (b"payload=" + b, h | {"Content-Type": "application/x-www-form-urlencoded"}),
    ),
    "no content type": (400, "application/json", lambda b, h: (b, h - {"Content-Type"})),
    "not JSON": (400, "not JSON", lambda b, h: (b"<html>hello</html>", h)),
    "truncated JSON": (400, "not JSON", lambda b, h: (b[: len(b) // 2], h)),
    "empty body": (400, "not JSON", lambda b, h: (b"", h)),
    "JSON array": (400, "not a JSON object", lambda b, h: (b"[1, 2]", h)),
    "pull_request without pull_request": (
        400,
        "pull_request",
        lambda b, h: (_without_pull_request(), h),
    ),
}


class _Headers(dict[str, str]):
    def __sub__(self, names: set[str]) -> _Headers:
        return _Headers({k: v for k, v in self.items() if k not in names})

    def __or__(self, other: dict[str, str]) -> _Headers:  # type: ignore[override]
        return _Headers({**self, **other})


@pytest.mark.parametrize("case", list(GITHUB_BAD), ids=list(GITHUB_BAD))
async def test_bad_github_input(
    client: httpx.AsyncClient, queue: QueueView, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    status, detail, change = GITHUB_BAD[case]
    body = _pr_body()
    body, headers = change(body, _Headers(github_headers("pull_request", body)))
    # Sign whatever body the case sends unless the case is about the signature.
    if status != 401:
        headers["X-Hub-Signature-256"] = sign(body)
    with caplog.at_level(logging.WARNING):
        response = await client.post("/webhooks/github", content=body, headers=headers)
    assert_problem(response, status, detail)
    assert queue.nothing_queued()
    assert "Codertocat" not in caplog.text  # never the payload in a log line


async def test_a_signature_failure_log_says_how_to_fix_it(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = _pr_body()
    headers = github_headers("pull_request", body) | {"X-Hub-Signature-256": sign(body, "nope")}
    with caplog.at_level(logging.WARNING, logger="bot.web.webhooks"):
        await client.post("/webhooks/github", content=body, headers=headers)
    [record] = [r for r in caplog.records if r.name == "bot.web.webhooks"]
    assert "WEBHOOK_SECRET" in record.getMessage() and "matches" in record.getMessage()


def _gitlab_body(name: str = "merge_request.open") -> bytes:
    return encode(gitlab_payload(name))


GITLAB_BAD = {
    "no token": (401, "X-Gitlab-Token", lambda b, h: (b, h - {"X-Gitlab-Token"})),
    "wrong token": (401, "X-Gitlab-Token", lambda b, h: (b, h | {"X-Gitlab-Token": "guess"})),
    "token with a suffix": (
        401,
        "X-Gitlab-Token",
        lambda b, h: (b, h | {"X-Gitlab-Token": GITLAB_SECRET + "x"}),
    ),
    "missing event header": (400, "X-Gitlab-Event", lambda b, h: (b, h - {"X-Gitlab-Event"})),
    "wrong content type": (
        400,
        "application/json",
        lambda b, h: (b, h | {"Content-Type": "text/plain"}),
    ),
    "not JSON": (400, "not JSON", lambda b, h: (b"hello", h)),
    "truncated JSON": (400, "not JSON", lambda b, h: (b[:100], h)),
    "kind does not match header": (400, "object_kind", lambda b, h: (_gitlab_body("push"), h)),
    "merge request without object_attributes": (
        400,
        "object_attributes",
        lambda b, h: (
            encode({k: v for k, v in json.loads(b).items() if k != "object_attributes"}),
            h,
        ),
    ),
}


@pytest.mark.parametrize("case", list(GITLAB_BAD), ids=list(GITLAB_BAD))
async def test_bad_gitlab_input(client: httpx.AsyncClient, queue: QueueView, case: str) -> None:
    status, detail, change = GITLAB_BAD[case]
    body, headers = change(_gitlab_body(), _Headers(gitlab_headers("Merge Request Hook")))
    response = await client.post("/webhooks/gitlab", content=body, headers=headers)
    assert_problem(response, status, detail)
    assert queue.nothing_queued()


@pytest.mark.parametrize("path", ["/webhooks/github", "/webhooks/gitlab"])
async def test_one_byte_over_25_mb_is_refused_by_its_length(
    client: httpx.AsyncClient, queue: QueueView, path: str
) -> None:
    body = b" " * (LIMIT + 1)
    headers = github_headers("pull_request", body) | gitlab_headers("Merge Request Hook")
    response = await client.post(path, content=body, headers=headers)
    assert_problem(response, 413, "larger than")
    assert queue.nothing_queued()


async def test_a_chunked_body_is_abandoned_as_soon_as_it_passes_the_limit(
    client: httpx.AsyncClient, queue: QueueView
) -> None:
    chunk = b" " * (1024 * 1024)
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(200):  # 200 MB if anybody read it all
            pulled += 1
            yield chunk

    headers = github_headers("pull_request", b"")
    response = await client.post("/webhooks/github", content=endless(), headers=headers)
    assert_problem(response, 413, "larger than")
    assert pulled <= 27  # stopped right after 25 MB
    assert queue.nothing_queued()


async def test_a_body_of_exactly_the_limit_is_read(client: httpx.AsyncClient) -> None:
    payload = _pr_body()
    body = payload[:-1] + b" " * (LIMIT - len(payload)) + b"}"
    response = await post_github(client, "pull_request", body)
    assert len(body) == LIMIT and response.status_code == 202


# Settings-dependent behaviour ------------------------------------------------------------


async def test_without_app_slug_the_slug_the_worker_stored_is_used(
    make_settings: SettingsFactory, redis_url: str, queue: QueueView
) -> None:
    env = {k: v for k, v in WEBHOOK_ENV.items() if k != "APP_SLUG"}
    queue.client.set("auditbot:github:app-slug", "auditbot")
    async with running_app(make_settings(REDIS_URL=redis_url, **env)) as (_, client):
        own = github_payload("pull_request.opened")
        own["sender"].update(login="auditbot[bot]", type="Bot")
        response = await post_github(client, "pull_request", own)
        assert response.status_code == 200 and response.json()["status"] == "ignored"

        comment = github_payload("issue_comment.created")
        comment["issue"]["pull_request"] = {"url": "https://api.github.com/repos/o/r/pulls/1"}
        comment["comment"].update(body="@auditbot review", author_association="OWNER")
        response = await post_github(client, "issue_comment", comment, delivery="mention")
        assert response.status_code == 202
        assert queue.job_ids() == ["run_command:github:186853002:1:d=mention"]


async def test_a_server_without_secrets_refuses_everything(
    make_settings: SettingsFactory, redis_url: str, queue: QueueView
) -> None:
    async with running_app(make_settings(REDIS_URL=redis_url)) as (_, client):
        github = await post_github(client, "pull_request", github_payload("pull_request.opened"))
        assert_problem(github, 401, "WEBHOOK_SECRET")
        gitlab = await post_gitlab(client, "Push Hook", gitlab_payload("push"))
        assert_problem(gitlab, 401, "GITLAB_WEBHOOK_SECRET")
    assert queue.nothing_queued()


async def test_a_gitlab_delivery_without_ids_is_deduplicated_by_its_body(
    client: httpx.AsyncClient, queue: QueueView
) -> None:
    body = encode(gitlab_payload("push"))
    headers = gitlab_headers("Push Hook")
    del headers["X-Gitlab-Event-UUID"]
    first = await client.post("/webhooks/gitlab", content=body, headers=headers)
    second = await client.post("/webhooks/gitlab", content=body, headers=headers)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json() == {"status": "duplicate"}
    assert len(queue.deliveries()) == 1
