"""The fakes refuse what GitHub and GitLab refuse: checked directly over HTTP, so that the
adapter tests passing means something."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from tests.fakes.fake_github import FakeGitHub, Pull, PullFile
from tests.fakes.fake_gitlab import MR, FakeGitLab, MRDiff
from tests.support.servers import serve_in_thread

from .conftest import APP_ID, INSTALLATION

HEAD = "h" * 40


@pytest.fixture
def github(
    fake_github: FakeGitHub, github_url: str, app_keys: tuple[str, str]
) -> Iterator[httpx.Client]:
    fake_github.repos["octo/demo"].pulls[7] = Pull(
        7, "b" * 40, HEAD, [PullFile("a.py", "modified", "@@ -1,2 +1,2 @@\n-x\n+y\n z", 1, 1)]
    )
    now = int(time.time())
    app_jwt = jwt.encode({"iss": str(APP_ID), "iat": now - 60, "exp": now + 540},
                         app_keys[0], algorithm="RS256")
    response = httpx.post(f"{github_url}/app/installations/{INSTALLATION}/access_tokens",
                          headers={"Authorization": f"Bearer {app_jwt}"}, json={})
    assert response.status_code == 201
    with httpx.Client(base_url=github_url,
                      headers={"Authorization": f"token {response.json()['token']}"}) as client:
        yield client


def test_github_fake_refusals(github: httpx.Client, github_url: str) -> None:
    assert httpx.get(f"{github_url}/repos/octo/demo").status_code == 401
    assert github.get("/repos/octo/demo/hooks").status_code == 404
    outside = github.post("/repos/octo/demo/pulls/7/reviews", json={
        "commit_id": HEAD, "event": "COMMENT", "body": "b",
        "comments": [{"path": "a.py", "line": 9, "side": "RIGHT", "body": "x"}]})
    assert outside.status_code == 422
    assert outside.json()["errors"] == ["Line could not be resolved"]
    annotations = [{"path": "a.py", "start_line": 1, "end_line": 1,
                    "annotation_level": "notice", "message": "m"}] * 51
    check = github.post("/repos/octo/demo/check-runs", json={
        "name": "auditbot", "head_sha": HEAD,
        "output": {"title": "t", "summary": "s", "annotations": annotations}})
    assert check.status_code == 422
    off_schema = github.post("/repos/octo/demo/check-runs", json={"head_sha": HEAD})
    assert off_schema.status_code == 422  # "name" is required by the description
    page = github.get("/repos/octo/demo/pulls/7/files", params={"per_page": 1})
    assert page.status_code == 200
    assert "link" not in page.headers  # one file: one page


@pytest.fixture
def gitlab() -> Iterator[tuple[FakeGitLab, httpx.Client]]:
    fake = FakeGitLab()
    project = fake.add_project(1, "g/p", commits={HEAD})
    project.mrs[1] = MR(1, 1, 1, "f", [("b" * 40, "s" * 40, HEAD)],
                        [MRDiff("a.py", "a.py", "@@ -1,2 +1,2 @@\n-x\n+y\n z")])
    with serve_in_thread(fake.app) as url, httpx.Client(
        base_url=f"{url}/api/v4", headers={"PRIVATE-TOKEN": fake.token}
    ) as client:
        yield fake, client


def test_gitlab_fake_refusals(gitlab: tuple[FakeGitLab, httpx.Client]) -> None:
    fake, client = gitlab
    position = {"position_type": "text", "base_sha": "b" * 40, "start_sha": "s" * 40,
                "head_sha": HEAD, "old_path": "a.py", "new_path": "a.py", "new_line": 2}
    # An unchanged line given with new_line only: GitLab cannot compute its line code.
    refused = client.post("/projects/1/merge_requests/1/discussions",
                          json={"body": "x", "position": position})
    assert refused.status_code == 400
    assert "line_code" in refused.json()["message"]
    accepted = client.post("/projects/1/merge_requests/1/discussions",
                           json={"body": "x", "position": {**position, "old_line": 2}})
    assert accepted.status_code == 201
    assert client.post(f"/projects/1/statuses/{'0' * 40}", json={"state": "pending"}
                       ).status_code == 404
    assert client.post(f"/projects/1/statuses/{HEAD}", json={"state": "running"}
                       ).status_code == 201
    again = client.post(f"/projects/1/statuses/{HEAD}", json={"state": "running"})
    assert again.status_code == 400
    assert httpx.get(str(client.base_url).rstrip("/") + "/user").status_code == 401
    assert len(fake.discussions[(1, 1)]) == 1


def test_github_fake_answers_404_to_what_it_does_not_serve(github: httpx.Client) -> None:
    wrong_method = github.put("/repos/octo/demo/pulls/7/files", json={})
    assert wrong_method.status_code == 404
    assert wrong_method.json()["message"] == "Not Found"
    assert github.get("/no/such/endpoint").json()["message"] == "Not Found"


def test_github_fake_refuses_any_review_while_one_is_pending(github: httpx.Client) -> None:
    pending = github.post("/repos/octo/demo/pulls/7/reviews", json={"commit_id": HEAD})
    assert pending.status_code == 200
    submitted = github.post("/repos/octo/demo/pulls/7/reviews", json={
        "commit_id": HEAD, "event": "COMMENT", "body": "b"})
    assert submitted.status_code == 422
    assert submitted.json()["errors"] == [
        "User can only have one pending review per pull request"]


def test_github_fake_secondary_limit_status_and_retry_after(
    github: httpx.Client, fake_github: FakeGitHub
) -> None:
    fake_github.secondary_limits = 1
    fake_github.secondary_status = 429
    fake_github.secondary_retry_after = 7
    refused = github.post("/repos/octo/demo/issues/7/comments", json={"body": "x"})
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "7")
    assert "secondary rate limit" in refused.json()["message"]
    assert github.post("/repos/octo/demo/issues/7/comments", json={"body": "x"}
                       ).status_code == 201


def test_gitlab_fake_statuses_notes_and_unknown_routes(
    gitlab: tuple[FakeGitLab, httpx.Client]
) -> None:
    _, client = gitlab
    unknown = client.post(f"/projects/1/statuses/{'0' * 40}", json={"state": "pending"})
    assert (unknown.status_code, unknown.json()) == (404, {"message": "404 Commit Not Found"})
    bad_state = client.post(f"/projects/1/statuses/{HEAD}", json={"state": "neutral"})
    assert bad_state.status_code == 400  # GitLab has no neutral state
    no_body = client.post("/projects/1/merge_requests/1/notes", json={})
    assert (no_body.status_code, no_body.json()) == (400, {"error": "body is missing"})
    for text in ("first", "second"):
        assert client.post("/projects/1/merge_requests/1/notes",
                           json={"body": text}).status_code == 201
    listed = client.get("/projects/1/merge_requests/1/notes")
    assert [n["body"] for n in listed.json()] == ["second", "first"]  # newest first
    ascending = client.get("/projects/1/merge_requests/1/notes", params={"sort": "asc"})
    assert [n["body"] for n in ascending.json()] == ["first", "second"]
    for response in (client.get("/projects/1/no-such-thing"),
                     client.delete("/projects/1/merge_requests/1/versions")):
        assert (response.status_code, response.json()) == (404, {"error": "404 Not Found"})
