"""The GitHub adapter, through githubkit, against the fake GitHub on loopback."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.errors import ForgeError, NotFound, RetryLater
from bot.forges.base import (
    SUMMARY_MARKER,
    Annotation,
    ChangeTarget,
    CheckUpdate,
    Forge,
    InlineComment,
    review_marker,
)
from bot.forges.base import ZERO_SHA as NULL_SHA
from bot.forges.github.auth import GitHubApp
from bot.forges.github.client import GitHubClient
from bot.forges.github.forge import GitHubForge
from tests.fakes.fake_github import FakeGitHub, Pull, PullFile

from .conftest import INSTALLATION

BASE, HEAD = "b" * 40, "h" * 40
PR = ChangeTarget(number=7)

APP_PY_PATCH = (
    "@@ -1,5 +1,6 @@\n import os\n \n-def main():\n+def main(arg):\n+    os.system(arg)\n"
    "     return 1\n \n"
    "@@ -20,3 +21,3 @@ def other():\n     a = 1\n-    b = 2\n+    b = 3\n     c = 4"
)


def setup_pull(fake: FakeGitHub, files: list[PullFile] | None = None) -> None:
    repo = fake.repos["octo/demo"]
    files = files or [
        PullFile("app.py", "modified", APP_PY_PATCH, additions=3, deletions=2),
        PullFile("new.py", "renamed", "@@ -1 +1 @@\n-x = 1\n+x = 2", 1, 1, "old.py"),
        PullFile("logo.png", "added", None, additions=0, deletions=0),
    ]
    repo.pulls[7] = Pull(7, BASE, HEAD, files)
    repo.trees[BASE] = {".auditbot.yml": b"review:\n  fail_on: critical\n", "app.py": b"x"}
    repo.trees[HEAD] = {".auditbot.yml": b"review:\n  fail_on: info\n", "app.py": b"y"}


def comment(line: int, key: str, *, side: str = "new", start: int | None = None,
            path: str = "app.py") -> InlineComment:
    return InlineComment(path, line, f"finding {key}", key, side, start)  # type: ignore[arg-type]


async def test_pull_request_change(fake_github: FakeGitHub, github_forge: GitHubForge) -> None:
    setup_pull(fake_github)
    assert isinstance(github_forge, Forge)
    change = await github_forge.fetch_change(PR)
    assert (change.base_sha, change.head_sha, change.truncated) == (BASE, HEAD, None)
    by_path = {f.path: f for f in change.files}
    assert by_path["app.py"].patch == APP_PY_PATCH
    assert (by_path["new.py"].status, by_path["new.py"].old_path) == ("renamed", "old.py")
    assert by_path["logo.png"].patch == ""  # no changes counted: nothing to show
    assert await github_forge.read_repo_config(change.base_sha) == "review:\n  fail_on: critical\n"
    assert await github_forge.read_file("missing.py", HEAD) is None
    assert sorted(await github_forge.list_tree(HEAD)) == [".auditbot.yml", "app.py"]


async def test_files_without_patch_are_rebuilt_or_skipped(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    big_old = "".join(f"line {i}\n" for i in range(200)).encode()
    big_new = big_old.replace(b"line 100\n", b"line hundred\n")
    setup_pull(fake_github, [
        PullFile("big.txt", "modified", None, additions=1, deletions=1),
        PullFile("img.bin", "modified", None, additions=1, deletions=1),
        PullFile("huge.sql", "added", None, additions=30000, deletions=0),
    ])
    repo = fake_github.repos["octo/demo"]
    repo.trees[BASE].update({"big.txt": big_old, "img.bin": b"\0\1\2"})
    repo.trees[HEAD].update({"big.txt": big_new, "img.bin": b"\0\1\3",
                             "huge.sql": b"insert;\n" * 200_000})
    change = await github_forge.fetch_change(PR)
    by_path = {f.path: f for f in change.files}
    assert by_path["big.txt"].patch == (
        "@@ -98,7 +98,7 @@\n line 97\n line 98\n line 99\n-line 100\n+line hundred\n"
        " line 101\n line 102\n line 103"
    )
    assert by_path["img.bin"].binary
    assert by_path["img.bin"].patch is None
    assert [(s.path, s.reason) for s in change.skipped] == [
        ("huge.sql", "GitHub shows no diff and the file is over 1000000 bytes")
    ]


async def test_pagination_stops_at_githubs_3000_files(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    files = [PullFile(f"f{i}.py", "added", "@@ -0,0 +1 @@\n+x", 1, 0) for i in range(3005)]
    setup_pull(fake_github, files)
    change = await github_forge.fetch_change(PR)
    assert len(change.files) == 3000
    assert change.truncated == (
        "the pull request changes 3005 files; GitHub lists only the first 3000"
    )
    pages = [p for m, p in fake_github.requests if p.endswith("/pulls/7/files")]
    assert len(pages) == 30


async def test_installation_token_is_shared_and_renewed(
    fake_github: FakeGitHub, make_app: Callable[..., GitHubApp]
) -> None:
    setup_pull(fake_github)
    # Two processes: separate GitHubApp objects, one Redis.
    first = GitHubForge(GitHubClient(make_app(), installation_id=INSTALLATION, owner="octo",
                                     repo="demo"))
    second = GitHubForge(GitHubClient(make_app(), installation_id=INSTALLATION, owner="octo",
                                      repo="demo"))
    await first.fetch_change(PR)
    await second.fetch_change(PR)
    assert fake_github.token_requests == 1
    fake_github.expire_tokens()  # GitHub stops accepting it before our cache says so
    change = await second.fetch_change(PR)
    assert change.head_sha == HEAD
    assert fake_github.token_requests == 2


async def test_compare_first_push_and_force_push(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    repo = fake_github.repos["octo/demo"]
    files = [PullFile("a.py", "added", "@@ -0,0 +1 @@\n+a = 1", 1, 0)]
    repo.comparisons[("main", HEAD)] = ("m" * 40, files)
    repo.comparisons[(BASE, HEAD)] = (BASE, files[:0])
    assert [f.path for f in (await github_forge.compare(NULL_SHA, HEAD)).files] == ["a.py"]
    assert (await github_forge.compare(BASE, HEAD)).files == ()
    gone = await github_forge.compare("d" * 40, HEAD)  # force-pushed away
    assert gone.base_sha == "m" * 40


async def test_review_posts_placeable_comments_once(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    await github_forge.fetch_change(PR)
    comments = [
        comment(5, "k1"),
        comment(5, "k2", start=2),
        comment(3, "k3", side="old"),
        comment(40, "outside"),  # not in any hunk: goes to the body
        comment(22, "cross", start=5),  # a range across two hunks
    ]
    result = await github_forge.publish_review(PR, HEAD, comments, "Audit summary")
    assert [c.key for c in result.posted] == ["k1", "k2", "k3"]
    assert [c.key for c in result.moved_to_body] == ["outside", "cross"]
    [review] = fake_github.submitted_reviews("octo/demo", 7)
    assert review_marker(HEAD) in review["payload"]["body"]
    assert "`app.py` line 40" in review["payload"]["body"]
    assert [c["line"] for c in review["comments"]] == [5, 5, 3]
    assert review["comments"][1]["start_line"] == 2
    assert review["comments"][2]["side"] == "LEFT"
    assert "<!-- auditbot:finding k1 -->" in review["comments"][0]["body"]
    # A retried job: the marker is found, nothing is posted again.
    again = await github_forge.publish_review(PR, HEAD, comments, "Audit summary")
    assert again.already_posted
    assert again.review_id == result.review_id
    assert len(fake_github.submitted_reviews("octo/demo", 7)) == 1


async def test_refused_comments_are_isolated_without_posting_twice(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    await github_forge.fetch_change(PR)
    # GitHub's diff of the PR differs from the one we saw (e.g. it was recomputed): the
    # second hunk is gone, so comments there are refused with an anonymous 422.
    pull = fake_github.repos["octo/demo"].pulls[7]
    pull.files[0].patch = APP_PY_PATCH.split("@@ -20")[0].rstrip("\n")
    comments = [comment(1, "a"), comment(22, "bad1"), comment(4, "b"), comment(23, "bad2"),
                comment(5, "c")]
    result = await github_forge.publish_review(PR, HEAD, comments, "Summary")
    assert [c.key for c in result.posted] == ["a", "b", "c"]
    assert [c.key for c in result.moved_to_body] == ["bad1", "bad2"]
    reviews = fake_github.reviews[("octo/demo", 7)]
    assert [r["state"] for r in reviews] == ["COMMENTED"]  # probes were pending, then deleted
    calls = [m for m, p in fake_github.requests if "/pulls/7/reviews" in p and m != "GET"]
    # The first try, the probes (pending reviews, the accepted ones deleted), the final post.
    assert calls.count("DELETE") >= 2
    assert calls.count("POST") >= calls.count("DELETE") + 2
    assert "finding bad1" in reviews[0]["payload"]["body"]
    assert "finding bad2" in reviews[0]["payload"]["body"]


async def test_lost_response_does_not_double_post(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    fake_github.inject("POST", r"/pulls/7/reviews$", 502, apply_first=True)
    result = await github_forge.publish_review(PR, HEAD, [comment(5, "k")], "Body")
    [review] = fake_github.submitted_reviews("octo/demo", 7)
    assert result.review_id == str(review["id"])


async def test_long_bodies_are_cut_below_the_limit(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    await github_forge.publish_review(PR, HEAD, [], "x" * 70_000)
    [review] = fake_github.submitted_reviews("octo/demo", 7)
    assert len(review["payload"]["body"]) < 65_536
    assert review["payload"]["body"].startswith(review_marker(HEAD))


async def test_summary_comment_is_edited_in_place(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    # Someone else quoting our marker must not make us edit their comment.
    first_id = await github_forge.upsert_summary(PR, "first run")
    fake_github.comments[1] = {
        "repo": "octo/demo", "number": 7,
        "payload": {**fake_github.comments[int(first_id)]["payload"], "id": 1,
                    "body": f"{SUMMARY_MARKER} copied",
                    "user": {**fake_github.comments[int(first_id)]["payload"]["user"],
                             "login": "mallory", "type": "User"}},
    }
    second_id = await github_forge.upsert_summary(PR, "second run")
    assert second_id == first_id
    body = fake_github.comments[int(first_id)]["payload"]["body"]
    assert body == f"{SUMMARY_MARKER}\nsecond run"
    assert fake_github.comments[1]["payload"]["body"] == f"{SUMMARY_MARKER} copied"


async def test_check_run_lifecycle_with_many_annotations(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    check_id = await github_forge.create_check(
        HEAD, CheckUpdate("queued", "Queued", "Waiting", details_url="http://r/1")
    )
    await github_forge.update_check(check_id, CheckUpdate("in_progress", "Auditing", "3 of 9"))
    annotations = tuple(
        Annotation("app.py", i, i, "failure", f"problem {i}", title=f"t{i}") for i in range(1, 121)
    )
    await github_forge.update_check(check_id, CheckUpdate(
        "completed", "2 high findings", "s" * 70_000, conclusion="failure",
        text="details", annotations=annotations, details_url="http://r/1",
    ))
    run = fake_github.check_runs[int(check_id)]
    assert run["name"] == "auditbot"
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert [a["start_line"] for a in run["annotations"]] == list(range(1, 121))
    assert len(run["output"]["summary"]) <= 65_535
    # The conclusion came with the last batch only.
    assert [("status" in body) for body in run["history"]] == [True, True, False, False, True]


async def test_secondary_rate_limit_is_waited_out(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    fake_github.secondary_limits = 1
    comment_id = await github_forge.upsert_summary(PR, "hello")
    assert fake_github.comments[int(comment_id)]["payload"]["body"].endswith("hello")
    posts = [p for m, p in fake_github.requests if m == "POST" and p.endswith("/7/comments")]
    assert len(posts) == 2  # refused once with retry-after, then accepted
    assert len(fake_github.comments) == 1


async def test_writes_are_spaced(
    fake_github: FakeGitHub, make_app: Callable[..., GitHubApp]
) -> None:
    setup_pull(fake_github)
    fake_github.write_spacing_s = 0.2  # the fake answers a secondary limit if we hurry
    forge = GitHubForge(GitHubClient(make_app(write_spacing_s=0.2), installation_id=INSTALLATION,
                                     owner="octo", repo="demo"))
    check_id = await forge.create_check(HEAD, CheckUpdate("queued", "q", "q"))
    for step in range(3):
        await forge.update_check(check_id, CheckUpdate("in_progress", "p", f"step {step}"))
    times = fake_github.write_times
    assert len(times) == 4
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.2


async def test_exhausted_primary_limit_defers_the_job(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    fake_github.rate_remaining = 0
    with pytest.raises(RetryLater) as caught:
        await github_forge.fetch_change(PR)
    assert caught.value.retry_after > 3000  # the reset is an hour away: not slept in-process


async def test_secondary_limit_without_retry_after_defers(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    fake_github.secondary_limits = 5
    fake_github.secondary_retry_after = None
    with pytest.raises(RetryLater) as caught:
        await github_forge.upsert_summary(PR, "hello")
    # "wait for at least one minute": longer than this worker may sleep (5 s in the tests).
    assert caught.value.retry_after == 60
    assert fake_github.comments == {}


async def test_two_workers_posting_the_same_review_post_once(
    fake_github: FakeGitHub, make_app: Callable[..., GitHubApp]
) -> None:
    setup_pull(fake_github)
    forges = [
        GitHubForge(GitHubClient(make_app(), installation_id=INSTALLATION, owner="octo",
                                 repo="demo", bot_login="auditbot[bot]"))
        for _ in range(2)
    ]
    results = await asyncio.gather(
        *(f.publish_review(PR, HEAD, [comment(5, "k")], "Body") for f in forges)
    )
    assert sorted(r.already_posted for r in results) == [False, True]
    assert len(fake_github.submitted_reviews("octo/demo", 7)) == 1


async def test_unknown_installation_says_how_to_fix(
    fake_github: FakeGitHub, make_app: Callable[..., GitHubApp]
) -> None:
    setup_pull(fake_github)
    forge = GitHubForge(GitHubClient(make_app(), installation_id=999, owner="octo", repo="demo"))
    with pytest.raises(NotFound) as missing:
        await forge.fetch_change(PR)
    assert missing.value.hint == "the app is not installed there any more"


async def test_wrong_private_key_says_how_to_fix(
    fake_github: FakeGitHub, make_app: Callable[..., GitHubApp]
) -> None:
    setup_pull(fake_github)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    app = make_app()
    app._private_key = other_key  # GitHub cannot verify the App JWT signed with it
    wrong = GitHubForge(GitHubClient(app, installation_id=INSTALLATION, owner="octo", repo="demo"))
    with pytest.raises(ForgeError) as refused:
        await wrong.fetch_change(PR)
    assert refused.value.hint == "check APP_ID and the private key"


async def test_server_errors_on_reads_are_retried(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    fake_github.inject("GET", r"/pulls/7/files$", 502, times=2)
    change = await github_forge.fetch_change(PR)
    assert len(change.files) == 3
    assert sum(1 for m, p in fake_github.requests if p.endswith("/pulls/7/files")) == 3
    fake_github.inject("GET", r"/pulls/7$", 503, times=10)
    with pytest.raises(RetryLater):
        await github_forge.fetch_change(PR)  # bounded: three retries, then the queue waits


async def test_command_replies_and_who_may_trigger(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    fake_github.roles.update({"maint": "maintain", "reader": "read", "owner": "admin"})
    assert await github_forge.can_trigger("maint")
    assert await github_forge.can_trigger("owner")
    assert not await github_forge.can_trigger("reader")
    assert not await github_forge.can_trigger("nobody")
    reply = await github_forge.post_comment(PR, "Audit started")
    assert fake_github.comments[int(reply)]["payload"]["body"] == "Audit started"


async def test_a_probe_left_by_a_crash_is_cleaned_up(
    fake_github: FakeGitHub, github_forge: GitHubForge
) -> None:
    setup_pull(fake_github)
    await github_forge.fetch_change(PR)
    # A worker died between creating a probe (pending review) and deleting it; GitHub
    # would refuse a second pending review, so the next attempt must remove it first.
    await github_forge.create_review(7, {"commit_id": HEAD, "comments": []})
    assert [r["state"] for r in fake_github.reviews[("octo/demo", 7)]] == ["PENDING"]
    fake_github.repos["octo/demo"].pulls[7].files[0].patch = "@@ -1 +1 @@\n-a\n+b"
    result = await github_forge.publish_review(PR, HEAD, [comment(1, "ok"), comment(5, "x")],
                                               "Body")
    assert [c.key for c in result.moved_to_body] == ["x"]
    assert [r["state"] for r in fake_github.reviews[("octo/demo", 7)]] == ["COMMENTED"]
