"""The conversation on GitLab, as the worker runs it against the fake GitLab: `/audit ask`
in a merge request note, a dismissal in one of auditbot's discussions (Developer or more
decides; a Reporter is refused politely), and a question answered in the discussion."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from bot.forges.feedback import marker_key
from bot.jobs.commands import run_command
from bot.jobs.contracts import Repository, RunCommand, ThreadReply
from bot.jobs.deps import JobDeps
from bot.jobs.review import review_pull_request
from bot.jobs.threads import reply_in_thread
from bot.llm.service import build_llm_service
from bot.store.models import FindingRecord
from tests.conversation.conftest import with_model
from tests.fakes.fake_gitlab import MR, FakeGitLab, MRDiff
from tests.fakes.fake_openai import FakeOpenAI
from tests.jobs.conftest import ctx_of
from tests.jobs.test_review_job import CODE, PATCH

BASE, START, HEAD = "b" * 40, "s" * 40, "h" * 40
REPO = Repository(forge="gitlab", id=1, full_name="group/app", default_branch="main",
                  web_url="http://gitlab.local/group/app")
DEVELOPER, REPORTER = 30, 20


def prepare(fake: FakeGitLab) -> None:
    project = fake.add_project(1, "group/app", commits={BASE, HEAD})
    project.mrs[3] = MR(3, 1, 1, "feature", [(BASE, START, HEAD)],
                        [MRDiff("tool.py", "tool.py", PATCH, new_file=True)])
    project.trees[BASE] = {}
    project.trees[HEAD] = {"tool.py": CODE.encode()}
    for name, level in (("dana", DEVELOPER), ("rita", REPORTER)):
        fake.person(name)
        fake.members[(1, name)] = level


async def review(deps: JobDeps) -> str:
    return await review_pull_request(ctx_of(deps, "gl:r"), {
        "repository": REPO.model_dump(mode="json"), "number": 3, "head_sha": HEAD,
        "trigger": "merge_request.open", "delivery_id": "gl-d1",
    })


def our_discussion(fake: FakeGitLab) -> dict[str, Any]:
    [found] = [d for d in fake.discussions[(1, 3)] if marker_key(d["notes"][0]["body"])]
    return found


async def say(deps: JobDeps, fake: FakeGitLab, discussion: dict[str, Any], body: str,
              author: str, n: int = 1) -> str:
    note_id = fake.reply(1, 3, discussion["id"], body, author)
    payload = ThreadReply(repository=REPO, number=3, thread=discussion["id"], comment_id=note_id,
                          body=body, author=author, author_id=fake.person(author)["id"],
                          delivery_id=f"gl-t{n}")
    return await reply_in_thread(ctx_of(deps, f"gl:t{n}"), payload.model_dump(mode="json"))


async def state_of(deps: JobDeps, discussion: dict[str, Any]) -> set[str]:
    key = marker_key(discussion["notes"][0]["body"])
    async with deps.sessions() as session:
        rows = await session.scalars(select(FindingRecord).where(FindingRecord.fingerprint == key))
        return {row.status for row in rows}


async def test_a_dismissal_in_a_discussion(gitlab_deps: JobDeps, fake_gitlab: FakeGitLab) -> None:
    prepare(fake_gitlab)
    assert await review(gitlab_deps) == "succeeded"
    discussion = our_discussion(fake_gitlab)
    assert await say(gitlab_deps, fake_gitlab, discussion, "won't fix", "rita") == "refused"
    assert await state_of(gitlab_deps, discussion) == {"open"}
    assert await say(gitlab_deps, fake_gitlab, discussion,
                     "won't fix: the tool only runs in CI", "dana", 2) == "dismissed"
    assert await state_of(gitlab_deps, discussion) == {"wont_fix"}
    notes = [n["body"] for n in fake_gitlab.thread_notes(1, 3, discussion["id"])]
    ours = [n for n in notes if "auditbot:answer" in n]
    assert "Only people with write access" in ours[0]
    assert "Marked as **won't fix** by dana" in ours[1]
    assert "Reason noted: the tool only runs in CI" in ours[1]
    # Our own note in the thread (its Note Hook comes back) is never answered.
    me = fake_gitlab.user["username"]
    payload = ThreadReply(repository=REPO, number=3, thread=discussion["id"], comment_id=1,
                          body="why?", author=me, author_id=fake_gitlab.user["id"],
                          delivery_id="gl-self")
    assert await reply_in_thread(ctx_of(gitlab_deps, "gl:self"),
                                 payload.model_dump(mode="json")) == "ours"


async def test_ask_and_a_question_in_a_discussion(
    gitlab_deps: JobDeps, fake_gitlab: FakeGitLab, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    prepare(fake_gitlab)
    await review(gitlab_deps)
    llm, url = fake_llm
    gitlab_deps.settings = with_model(gitlab_deps.settings, url)
    gitlab_deps.llm = build_llm_service(gitlab_deps.settings, gitlab_deps.redis)
    try:
        llm.replies.extend(["It runs `ls` with x appended.", "Because x reaches a shell."])
        ask = RunCommand(repository=REPO, number=3, command="ask", argument="what does tool.py do?",
                         author="dana", comment_id=77, head_sha=HEAD, delivery_id="gl-ask")
        assert await run_command(ctx_of(gitlab_deps, "gl:ask"),
                                 ask.model_dump(mode="json")) == "answered"
        discussion = our_discussion(fake_gitlab)
        assert await say(gitlab_deps, fake_gitlab, discussion, "Is this reachable?",
                         "dana", 3) == "answered"
    finally:
        await gitlab_deps.llm.aclose()
        gitlab_deps.llm = None
    answer = [n["body"] for n in fake_gitlab.notes[(1, 3)] if "auditbot:answer 77" in n["body"]]
    assert len(answer) == 1 and "It runs `ls` with x appended." in answer[0]
    assert "### File: tool.py" in llm.requests[0]["messages"][-1]["content"]
    thread = [n["body"] for n in fake_gitlab.thread_notes(1, 3, discussion["id"])]
    assert "Because x reaches a shell." in thread[-1]
    # Someone who is not a member (and did not open the merge request) gets nothing.
    fake_gitlab.person("stranger")
    stranger = RunCommand(repository=REPO, number=3, command="ask", argument="why?",
                          author="stranger", comment_id=78, delivery_id="gl-ask2")
    assert await run_command(ctx_of(gitlab_deps, "gl:ask2"),
                             stranger.model_dump(mode="json")) == "ignored"


def test_fake_gitlab_refuses_a_note_without_body(fake_gitlab: FakeGitLab, gitlab_url: str) -> None:
    prepare(fake_gitlab)
    fake_gitlab.discussions[(1, 3)] = [{"id": "abc", "individual_note": False, "notes": [
        {"id": 1, "body": "x", "resolvable": True, "author": fake_gitlab.user}]}]
    url = f"{gitlab_url}/api/v4/projects/1/merge_requests/3/discussions/abc/notes"
    headers = {"private-token": fake_gitlab.token}
    assert httpx.post(url, headers=headers, json={}).json() == {"error": "body is missing"}
    assert httpx.post(url, headers=headers, json={"body": 5}).status_code == 400
    assert httpx.post(url, headers=headers, json={"body": "ok"}).status_code == 201


async def test_a_command_run_again_answers_once(
    gitlab_deps: JobDeps, fake_gitlab: FakeGitLab
) -> None:
    """The job of `/audit help` run a second time (its worker was killed after posting)
    finds its note on the merge request and posts none."""
    prepare(fake_gitlab)
    helped = RunCommand(repository=REPO, number=3, command="help", author="dana",
                        comment_id=79, delivery_id="gl-help").model_dump(mode="json")
    for _ in range(2):
        assert await run_command(ctx_of(gitlab_deps, "gl:help"), helped) == "help"
    notes = [n["body"] for n in fake_gitlab.notes[(1, 3)] if "/audit cancel" in n["body"]]
    assert len(notes) == 1 and notes[0].startswith("<!-- auditbot:answer 79 -->")
