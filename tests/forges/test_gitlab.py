"""The GitLab adapter, through python-gitlab, against the fake GitLab on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.errors import ForgeError, RetryLater
from bot.forges.base import (
    SUMMARY_MARKER,
    ChangeTarget,
    CheckUpdate,
    Forge,
    InlineComment,
    review_marker,
)
from bot.forges.base import ZERO_SHA as NULL_SHA
from bot.forges.gitlab.client import GitLabClient
from bot.forges.gitlab.forge import GitLabForge
from tests.fakes.fake_gitlab import MR, FakeGitLab, MRDiff
from tests.support.servers import serve_in_thread

BASE, START, HEAD = "b" * 40, "s" * 40, "h" * 40
MR_TARGET = ChangeTarget(number=3)
PATCH = (
    "@@ -1,5 +1,6 @@\n import os\n \n-def main():\n+def main(arg):\n+    os.system(arg)\n"
    "     return 1\n \n"
    "@@ -20,3 +21,3 @@ def other():\n     a = 1\n-    b = 2\n+    b = 3\n     c = 4"
)


@pytest.fixture
def fake() -> FakeGitLab:
    fake = FakeGitLab()
    project = fake.add_project(1, "group/app", commits={BASE, HEAD})
    fork = fake.add_project(2, "someone/app", commits={HEAD})
    diffs = [
        MRDiff("app.py", "app.py", PATCH),
        MRDiff("old.py", "new.py", "@@ -1 +1 @@\n-x = 1\n+x = 2", renamed_file=True),
        MRDiff("big.txt", "big.txt", "", too_large=True),
    ] + [MRDiff(f"gen{i}.py", f"gen{i}.py", "@@ -0,0 +1 @@\n+x", new_file=True)
         for i in range(130)]
    project.mrs[3] = MR(3, 1, 2, "feature", [("0" * 40, "0" * 40, "1" * 40),
                                             (BASE, START, HEAD)], diffs, pipeline_id=55)
    old = "".join(f"line {i}\n" for i in range(50)).encode()
    project.trees[BASE] = {"big.txt": old, ".auditbot.yml": b"review:\n  fail_on: low\n"}
    project.trees[HEAD] = {"big.txt": old.replace(b"line 9\n", b"nine\n"), "app.py": b"x"}
    fork.trees[HEAD] = project.trees[HEAD]
    return fake


@pytest.fixture
async def forge(fake: FakeGitLab) -> AsyncIterator[GitLabForge]:
    with serve_in_thread(fake.app) as url:
        forge = GitLabForge(GitLabClient(url=url, token=fake.token, project=1, backoff_s=0.01,
                                         max_wait_s=2))
        yield forge
        await forge.close()


def inline(line: int, key: str, *, side: str = "new", start: int | None = None,
           path: str = "app.py") -> InlineComment:
    return InlineComment(path, line, f"finding {key}", key, side, start)  # type: ignore[arg-type]


async def test_merge_request_change(fake: FakeGitLab, forge: GitLabForge) -> None:
    assert isinstance(forge, Forge)
    change = await forge.fetch_change(MR_TARGET)
    assert (change.base_sha, change.start_sha, change.head_sha) == (BASE, START, HEAD)
    by_path = {f.path: f for f in change.files}
    assert len(by_path) == 133
    assert by_path["app.py"].patch == PATCH
    assert (by_path["new.py"].status, by_path["new.py"].old_path) == ("renamed", "old.py")
    assert by_path["big.txt"].patch is not None
    assert "+nine" in by_path["big.txt"].patch
    assert by_path["gen0.py"].status == "added"
    pages = [p for m, p in fake.requests if p.endswith("/diffs")]
    assert len(pages) == 2  # per_page=100
    assert await forge.read_repo_config(BASE) == "review:\n  fail_on: low\n"
    assert await forge.read_file("nope", BASE) is None
    assert sorted(await forge.list_tree(HEAD)) == ["app.py", "big.txt"]


async def test_inline_discussions_positions_and_fallback(
    fake: FakeGitLab, forge: GitLabForge
) -> None:
    comments = [
        inline(4, "added"),  # added line: new_line only
        inline(2, "context"),  # unchanged line: both lines
        inline(3, "removed", side="old"),  # removed line: old_line only
        inline(5, "range", start=4),  # multi-line: line_range
        inline(40, "outside"),  # not in the diff: a general note
    ]
    result = await forge.publish_review(MR_TARGET, HEAD, comments, "Review body")
    assert [c.key for c in result.posted] == ["added", "context", "removed", "range"]
    assert [c.key for c in result.moved_to_body] == ["outside"]
    positions = [d["notes"][0]["position"] for d in fake.discussions[(1, 3)]]
    assert positions[0]["new_line"] == 4
    assert "old_line" not in positions[0]
    assert (positions[1]["old_line"], positions[1]["new_line"]) == (2, 2)
    assert positions[2]["old_line"] == 3
    assert "new_line" not in positions[2]
    assert positions[3]["line_range"]["start"]["type"] == "new"
    assert all(p["base_sha"] == BASE and p["start_sha"] == START and p["head_sha"] == HEAD
               and p["old_path"] == p["new_path"] == "app.py" for p in positions)
    general = [n["body"] for n in fake.notes[(1, 3)] if n["type"] is None]
    assert any("finding outside" in body and "`app.py` line 40" in body for body in general)
    # A retried job posts nothing new.
    count = len(fake.notes[(1, 3)])
    again = await forge.publish_review(MR_TARGET, HEAD, comments, "Review body")
    assert again.already_posted
    assert len(fake.notes[(1, 3)]) == count


async def test_refused_position_becomes_a_general_note(
    fake: FakeGitLab, forge: GitLabForge
) -> None:
    # GitLab's diff differs from what the comment was placed against: 400 line_code.
    fake.projects[1].mrs[3].diffs[0].diff = PATCH.split("@@ -20")[0].rstrip("\n")
    result = await forge.publish_review(MR_TARGET, HEAD, [inline(4, "ok"), inline(22, "gone")],
                                        "Body")
    assert [c.key for c in result.posted] == ["ok"]
    assert [c.key for c in result.moved_to_body] == ["gone"]
    assert len(fake.discussions[(1, 3)]) == 1


async def test_crashed_job_resumes_without_duplicates(
    fake: FakeGitLab, forge: GitLabForge
) -> None:
    fake.inject("POST", r"/merge_requests/3/notes$", 500, times=10)  # the review note fails
    with pytest.raises(RetryLater):
        await forge.publish_review(MR_TARGET, HEAD, [inline(4, "a"), inline(2, "b")], "Body")
    fake.injected.clear()
    result = await forge.publish_review(MR_TARGET, HEAD, [inline(4, "a"), inline(2, "b")], "B")
    assert not result.already_posted
    assert len(fake.discussions[(1, 3)]) == 2  # not posted twice


async def test_summary_note_is_edited_in_place(fake: FakeGitLab, forge: GitLabForge) -> None:
    first = await forge.upsert_summary(MR_TARGET, "run one")
    second = await forge.upsert_summary(MR_TARGET, "run two")
    assert first == second
    [note] = fake.notes[(1, 3)]
    assert note["body"] == f"{SUMMARY_MARKER}\nrun two"


async def test_commit_status_on_the_fork_with_ref_and_pipeline(
    fake: FakeGitLab, forge: GitLabForge
) -> None:
    check = await forge.create_check(HEAD, CheckUpdate("queued", "Queued"), MR_TARGET)
    await forge.update_check(check, CheckUpdate("in_progress", "Auditing 1 of 3"))
    await forge.update_check(check, CheckUpdate("in_progress", "Auditing 2 of 3"))
    await forge.update_check(check, CheckUpdate(
        "completed", "Partial audit: 2 files skipped, nothing at or above high",
        conclusion="neutral", details_url="http://reports/1"))
    [status] = fake.statuses
    assert (status["project_id"], status["ref"], status["pipeline_id"]) == (2, "feature", 55)
    assert status["name"] == "auditbot"
    assert status["status"] == "success"  # GitLab has no neutral
    assert status["target_url"] == "http://reports/1"
    assert [h["state"] for h in status["history"]] == ["pending", "running", "success"]


async def test_rate_limit_and_transient_errors_are_retried(
    fake: FakeGitLab, forge: GitLabForge
) -> None:
    fake.inject("GET", r"/merge_requests/3/versions$", 429, headers={"Retry-After": "1"})
    fake.inject("GET", r"/merge_requests/3/diffs$", 502)
    change = await forge.fetch_change(MR_TARGET)
    assert change.head_sha == HEAD
    versions = [p for m, p in fake.requests if p.endswith("/versions")]
    assert len(versions) == 2
    fake.inject("GET", r"/merge_requests/3/versions$", 429, headers={"Retry-After": "3600"})
    with pytest.raises(RetryLater) as caught:
        await forge.fetch_change(MR_TARGET)
    assert caught.value.retry_after == 3600


async def test_compare_pushes(fake: FakeGitLab, forge: GitLabForge) -> None:
    project = fake.projects[1]
    project.comparisons[("main", HEAD)] = [MRDiff("a.py", "a.py", "@@ -0,0 +1 @@\n+a",
                                                  new_file=True)]
    first_push = await forge.compare(NULL_SHA, HEAD)
    assert [f.path for f in first_push.files] == ["a.py"]
    forced = await forge.compare("d" * 40, HEAD)
    assert forced.base_sha == "main"


async def test_wrong_token_says_how_to_fix(fake: FakeGitLab) -> None:
    with serve_in_thread(fake.app) as url:
        forge = GitLabForge(GitLabClient(url=url, token="glpat-wrong", project=1))
        with pytest.raises(ForgeError) as caught:
            await forge.fetch_change(MR_TARGET)
        await forge.close()
    assert caught.value.hint == "check GITLAB_TOKEN and its api scope"


async def test_new_merge_request_without_versions_is_retried_later(
    fake: FakeGitLab, forge: GitLabForge
) -> None:
    fake.projects[1].mrs[3].versions.clear()  # just opened: GitLab has no diff version yet
    with pytest.raises(RetryLater) as caught:
        await forge.fetch_change(MR_TARGET)
    assert caught.value.retry_after == 10


async def test_command_replies_and_who_may_trigger(fake: FakeGitLab, forge: GitLabForge) -> None:
    fake.usernames[:] = ["dev", "guest", "outsider"]
    fake.members.update({(1, "dev"): 30, (1, "guest"): 10})
    assert await forge.can_trigger("dev")
    assert not await forge.can_trigger("guest")
    assert not await forge.can_trigger("outsider")
    assert not await forge.can_trigger("ghost")
    reply = await forge.post_comment(MR_TARGET, "Audit started")
    assert [n["id"] for n in fake.notes[(1, 3)]] == [int(reply)]


async def test_two_workers_publish_one_review(fake: FakeGitLab, redis: Redis) -> None:
    with serve_in_thread(fake.app) as url:
        forges = [GitLabForge(GitLabClient(url=url, token=fake.token, project=1), redis=redis)
                  for _ in range(2)]
        results = await asyncio.gather(
            *(f.publish_review(MR_TARGET, HEAD, [inline(4, "a")], "Body") for f in forges)
        )
        for forge in forges:
            await forge.close()
    assert sorted(r.already_posted for r in results) == [False, True]
    assert len(fake.discussions[(1, 3)]) == 1


async def test_gitlab_without_the_diffs_endpoint(fake: FakeGitLab, forge: GitLabForge) -> None:
    fake.has_diffs_endpoint = False
    change = await forge.fetch_change(MR_TARGET)
    assert len(change.files) == 133
    assert ("GET", "/api/v4/projects/1/merge_requests/3/changes") in fake.requests


async def test_fixed_findings_discussions_are_resolved(
    fake: FakeGitLab, forge: GitLabForge
) -> None:
    comments = [inline(4, "k1"), inline(2, "k2"), inline(5, "k3", start=4), inline(40, "far")]
    await forge.publish_review(MR_TARGET, HEAD, comments, "Review body")
    by_key = {d["notes"][0]["body"].split(" -->")[0].rsplit(" ", 1)[-1]: d
              for d in fake.discussions[(1, 3)]}
    # "far" was moved to a general note: not a resolvable thread, never PUT.
    assert await forge.resolve_findings(MR_TARGET, ["k1", "k3", "far"]) == 2
    assert fake.resolved_discussions == [by_key["k1"]["id"], by_key["k3"]["id"]]
    assert by_key["k1"]["notes"][0]["resolved"]
    assert not by_key["k2"]["notes"][0]["resolved"]
    assert await forge.resolve_findings(MR_TARGET, ["k1"]) == 0  # already resolved
    assert len([p for m, p in fake.requests if m == "PUT" and "/discussions/" in p]) == 2


async def test_feedback_from_replies_and_thumbs_down(
    fake: FakeGitLab, forge: GitLabForge
) -> None:
    comments = [inline(4, "k1"), inline(2, "k2"), inline(3, "k3", side="old"),
                inline(5, "k4", start=4)]
    await forge.publish_review(MR_TARGET, HEAD, comments, "Review body")
    threads = {d["notes"][0]["body"].split(" -->")[0].rsplit(" ", 1)[-1]: d
               for d in fake.discussions[(1, 3)]}
    fake.reply(1, 3, threads["k1"]["id"], "FALSE POSITIVE\nconstant input", "alice")
    fake.award(threads["k2"]["notes"][0]["id"], "thumbsdown", "bob")
    fake.award(threads["k3"]["notes"][0]["id"], "thumbsup", "carol")
    fake.reply(1, 3, threads["k4"]["id"], "is this a false positive?", "dave")
    assert await forge.feedback(MR_TARGET) == {"k1": "alice", "k2": "bob"}
    assert await forge.feedback(ChangeTarget()) == {}


async def test_python_gitlab_waits_in_threads_not_on_the_event_loop(
    fake: FakeGitLab, forge: GitLabForge
) -> None:
    fake.delay_s = 0.2  # every answer takes 200 ms
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        change = await forge.fetch_change(MR_TARGET)
    finally:
        ticker.cancel()
    assert change.head_sha == HEAD
    calls = len(fake.requests)
    assert calls >= 4  # versions, two pages of diffs, the big file at both SHAs
    # Had python-gitlab blocked the loop, the ticker would run only between calls.
    assert ticks >= calls * 5


async def test_a_re_review_adds_discussions_and_no_general_note(
    fake: FakeGitLab, forge: GitLabForge
) -> None:
    """A merge request holds the discussions and one summary note, kept up to date; the
    reviewed-head marker lives in the summary note, not in a note of its own per review."""
    first = await forge.publish_review(MR_TARGET, HEAD, [inline(4, "a")], "Review body")
    await forge.upsert_summary(MR_TARGET, "run one")
    mr = fake.projects[1].mrs[3]
    newer = "n" * 40
    fake.projects[1].commits.add(newer)
    fake.projects[1].trees[newer] = fake.projects[1].trees[HEAD]
    mr.versions.append((BASE, START, newer))
    second = await forge.publish_review(MR_TARGET, newer, [inline(2, "b")], "Review body")
    await forge.upsert_summary(MR_TARGET, "run two")

    assert [c.key for c in first.posted] == ["a"] and [c.key for c in second.posted] == ["b"]
    assert len(fake.discussions[(1, 3)]) == 2
    [summary] = [n for n in fake.notes[(1, 3)] if n["type"] is None]
    assert summary["body"] == f"{SUMMARY_MARKER}\n{review_marker(newer)}\nrun two"
    again = await forge.publish_review(MR_TARGET, newer, [inline(2, "b")], "Review body")
    assert again.already_posted
