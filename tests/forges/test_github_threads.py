"""Review threads of fixed findings resolved through GitHub's GraphQL API, and feedback
(a "false positive" reply, a 👎) read from review comments, against the fake GitHub."""

from __future__ import annotations

import httpx
import pytest

from bot.errors import NotFound
from bot.forges.base import ChangeTarget
from bot.forges.feedback import says_false_positive
from bot.forges.github.forge import GitHubForge
from bot.forges.github.threads import RESOLVE_MUTATION, THREADS_QUERY
from tests.fakes.fake_github import FakeGitHub

from .test_github import HEAD, PR, comment, setup_pull


async def post_review(fake: FakeGitHub, forge: GitHubForge, keys: list[str]) -> dict[str, int]:
    """Our review with one comment per key; returns key -> review comment id."""
    setup_pull(fake)
    await forge.fetch_change(PR)
    await forge.publish_review(PR, HEAD, [comment(5, k) for k in keys], "Audit summary")
    ids = {}
    for comment_id, stored in fake.review_comments.items():
        for key in keys:
            if f"auditbot:finding {key} -->" in stored["payload"]["body"]:
                ids[key] = comment_id
    assert set(ids) == set(keys)
    return ids


async def test_fixed_findings_threads_are_resolved_once(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    ids = await post_review(fake_github, github_forge, ["k1", "k2", "k3"])
    # Someone else's comment quoting our marker is not ours: never resolved.
    fake_github._add_review_comment(
        fake_github.repos["octo/demo"], 7, 1,
        {"path": "app.py", "line": 5, "body": "<!-- auditbot:finding k1 --> copied"},
        HEAD, "mallory",
    )
    fake_github.reply(ids["k1"], "thanks, fixing", "alice")

    assert await github_forge.resolve_findings(PR, ["k1", "k3", "unknown"]) == 2
    assert fake_github.resolved_threads == [
        fake_github.thread_of(ids["k1"])["id"],
        fake_github.thread_of(ids["k3"])["id"],
    ]
    assert not fake_github.thread_of(ids["k2"])["resolved"]
    # Already resolved: nothing is sent again.
    assert await github_forge.resolve_findings(PR, ["k1", "k3"]) == 0
    assert len(fake_github.resolved_threads) == 2
    assert await github_forge.resolve_findings(PR, []) == 0


async def test_threads_are_read_past_the_first_hundred(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    repo = fake_github.repos["octo/demo"]
    for index in range(130):
        spec = {"path": "app.py", "line": 5, "body": f"<!-- auditbot:finding f{index} -->\nx"}
        fake_github._add_review_comment(repo, 7, 1, spec, HEAD, fake_github.bot_login)
    assert await github_forge.resolve_findings(PR, ["f3", "f128"]) == 2
    resolved = {t["id"] for t in fake_github.threads.values() if t["resolved"]}
    assert len(resolved) == 2
    assert sum(1 for m, p in fake_github.requests if p == "/graphql") == 2 + 2  # 2 pages


async def test_unknown_pull_request_is_not_found(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    with pytest.raises(NotFound):
        await github_forge.resolve_findings(ChangeTarget(number=99), ["k1"])


async def test_feedback_from_replies_and_thumbs_down(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    ids = await post_review(fake_github, github_forge, ["k1", "k2", "k3", "k4", "k5"])
    fake_github.reply(ids["k1"], "False positive.\nthe input is a constant", "alice")
    fake_github.react(ids["k2"], "-1", "bob")
    fake_github.react(ids["k3"], "+1", "carol")  # agrees: not feedback
    fake_github.reply(ids["k4"], "not a false positive, fixing", "dave")
    fake_github.reply(ids["k5"], "false positive", fake_github.bot_login)  # our own: ignored
    assert await github_forge.feedback(PR) == {"k1": "alice", "k2": "bob"}
    # Only the comment with a 👎 had its reactions listed.
    reaction_calls = [p for m, p in fake_github.requests if p.endswith("/reactions")]
    assert reaction_calls == [f"/repos/octo/demo/pulls/comments/{ids['k2']}/reactions"]


def test_false_positive_wording() -> None:
    assert says_false_positive("False Positive")
    assert says_false_positive("  false positive!\nbecause ...")
    assert not says_false_positive("this is a false positive")
    assert not says_false_positive("")


def test_fake_refuses_graphql_outside_the_schema(
    fake_github: FakeGitHub, github_url: str
) -> None:
    token = "ghs_test"
    fake_github.tokens[token] = (77, 1e12)
    headers = {"authorization": f"bearer {token}"}

    def post(query: str, variables: dict[str, object] | None = None) -> dict[str, object]:
        response = httpx.post(f"{github_url}/graphql", headers=headers,
                              json={"query": query, "variables": variables or {}})
        assert response.status_code == 200
        return dict(response.json())

    answer = post('query { repository(owner: "octo", name: "demo") { id } }')
    assert "data" not in answer
    assert "Cannot query field 'id'" in str(answer["errors"])
    answer = post(THREADS_QUERY, {"owner": "octo", "name": "demo", "number": 7})
    assert answer["data"] == {"repository": {"pullRequest": None}}
    assert answer["errors"][0]["type"] == "NOT_FOUND"  # type: ignore[index]
    # Connections need first or last, as on GitHub.
    setup_pull(fake_github)
    answer = post('query { repository(owner: "octo", name: "demo") '
                  "{ pullRequest(number: 7) { reviewThreads { nodes { id } } } } }")
    assert "first" in str(answer["errors"])
    answer = post(RESOLVE_MUTATION, {"threadId": "PRRT_nope"})
    assert answer["errors"][0]["type"] == "NOT_FOUND"  # type: ignore[index]
    answer = post(THREADS_QUERY, {"owner": "octo", "name": "demo"})  # $number missing
    assert "number" in str(answer["errors"])
    unauthorised = httpx.post(f"{github_url}/graphql", json={"query": THREADS_QUERY})
    assert unauthorised.status_code == 401
