"""Signed webhook -> web process -> Redis -> worker process -> fake GitHub and fake LLM:
the review, comments and check run that GitHub would show."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack, example, pull_files
from tests.support.gitrepo import commit, make_repo
from tests.support.processes import wait_for

# Real processes: a loaded CI machine needs more than the default per-test bound.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

BASE = (
    "import sqlite3\nimport subprocess\n\n\n"
    "def find(db, name):\n"
    '    return db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchall()\n'
)
HEAD = BASE + (
    "\n\ndef search(db, name):\n"
    '    query = "SELECT * FROM users WHERE name = \'" + name + "\'"\n'
    "    return db.execute(query).fetchall()\n"
    "\n\ndef export(target):\n"
    '    subprocess.call("dump > " + target, shell=True)\n'
)
SQL_LINE = 10
SHELL_LINE = 15


def llm_finding(**overrides: Any) -> dict[str, Any]:
    finding = {
        "path": "app.py",
        "start_line": SQL_LINE,
        "end_line": SQL_LINE,
        "severity": "high",
        "category": "security",
        "cwe": "CWE-89",
        "title": "SQL built from user input",
        "message": "name is concatenated into the query; use a parameter.",
        "suggestion": '    query = "SELECT * FROM users WHERE name = ?"',
        "quote": 'query = "SELECT * FROM users WHERE name = \'" + name + "\'"',
        "confidence": 0.9,
    }
    finding.update(overrides)
    return finding


def pr_payload(action: str, number: int, base_sha: str, head_sha: str) -> dict[str, Any]:
    payload = example(f"pull_request.{action}")
    payload["number"] = number
    payload["pull_request"]["number"] = number
    payload["pull_request"]["draft"] = False
    payload["pull_request"]["head"]["sha"] = head_sha
    payload["pull_request"]["base"]["sha"] = base_sha
    payload["pull_request"]["base"]["ref"] = "master"
    return payload


def completed(stack: Stack, head_sha: str) -> list[dict[str, Any]]:
    return [
        run
        for run in stack.check_runs()
        if run.get("head_sha") == head_sha and run.get("status") == "completed"
    ]


def our_comment(stack: Stack, number: int, line: int) -> int:
    """The id of our first review comment on ``line`` of app.py in pull request ``number``."""
    return min(
        comment_id
        for comment_id, stored in stack.github.review_comments.items()
        if stored["number"] == number
        and stored["payload"]["line"] == line
        and "auditbot:finding" in stored["payload"]["body"]
    )


def summary_comments(stack: Stack) -> list[dict[str, Any]]:
    return [
        c["payload"]
        for c in stack.github.comments.values()
        if "auditbot:summary" in c["payload"]["body"]
    ]


def test_pull_request_opened_is_reviewed(stack: Stack, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "src", {"app.py": BASE})
    commit(repo, {"app.py": HEAD}, "search and export")
    base_sha, head_sha = stack.set_pull(7, repo, "HEAD~1", "HEAD")
    stack.llm.findings = [llm_finding()]
    worker = stack.worker()

    response = stack.deliver("pull_request", pr_payload("opened", 7, base_sha, head_sha))
    assert response.status_code == 202, response.text

    wait_for(
        lambda: bool(completed(stack, head_sha)),
        timeout=90,
        what="the check run",
        logs=[worker, stack.processes[0]],
    )
    run = completed(stack, head_sha)[0]
    assert run["name"] == "auditbot"
    assert run["conclusion"] == "failure"
    assert run["details_url"].startswith("http://auditbot.test/reports/")

    reviews = stack.github.submitted_reviews("Codertocat/Hello-World", 7)
    assert len(reviews) == 1
    comments = {(c["path"], c["line"]) for c in reviews[0]["comments"]}
    assert ("app.py", SQL_LINE) in comments
    assert ("app.py", SHELL_LINE) in comments
    sql = next(c for c in reviews[0]["comments"] if c["line"] == SQL_LINE)
    assert "```suggestion" in sql["body"]

    summaries = summary_comments(stack)
    assert len(summaries) == 1
    assert "SQL built from user input" in summaries[0]["body"]


HEAD2 = (
    HEAD.replace(
        '    query = "SELECT * FROM users WHERE name = \'" + name + "\'"\n'
        "    return db.execute(query).fetchall()\n",
        '    return db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchall()\n',
    )
    + "\n\ndef load(blob):\n    import pickle\n\n    return pickle.loads(blob)\n"
)


def test_re_push_posts_only_new_findings_and_edits_the_summary(
    stack: Stack, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "src", {"app.py": BASE})
    first_sha = commit(repo, {"app.py": HEAD}, "search and export")
    base_sha, head_sha = stack.set_pull(8, repo, "HEAD~1", "HEAD")
    stack.llm.findings = [llm_finding()]
    worker = stack.worker()
    assert (
        stack.deliver("pull_request", pr_payload("opened", 8, base_sha, head_sha)).status_code
        == 202
    )
    wait_for(
        lambda: bool(completed(stack, head_sha)), timeout=90, what="first review", logs=[worker]
    )
    first_summary = summary_comments(stack)
    assert len(first_summary) == 1

    # Second push: the SQL problem is fixed, a pickle problem is new, the shell one stays.
    second_sha = commit(repo, {"app.py": HEAD2}, "fix sql, add load")
    _, head2 = stack.set_pull(8, repo, base_sha, "HEAD")

    stack.repo.comparisons[(first_sha, second_sha)] = (
        first_sha,
        pull_files(repo, first_sha, second_sha),
    )
    stack.llm.findings = []
    payload = pr_payload("synchronize", 8, base_sha, head2)
    assert stack.deliver("pull_request", payload).status_code == 202
    wait_for(lambda: bool(completed(stack, head2)), timeout=90, what="second review", logs=[worker])

    reviews = stack.github.submitted_reviews("Codertocat/Hello-World", 8)
    assert len(reviews) == 2
    first_lines = {c["line"] for c in reviews[0]["comments"]}
    second_lines = {c["line"] for c in reviews[1]["comments"]}
    assert SHELL_LINE in first_lines
    assert SHELL_LINE - 1 not in second_lines  # the shell finding moved up a line: not re-posted
    pickle_line = HEAD2.splitlines().index("    return pickle.loads(blob)") + 1
    load_line = HEAD2.splitlines().index("def load(blob):") + 1
    assert pickle_line in second_lines
    assert second_lines <= set(range(load_line, pickle_line + 1))  # only the new code

    summaries = summary_comments(stack)
    assert len(summaries) == 1  # the same comment, edited
    assert summaries[0]["id"] == first_summary[0]["id"]
    assert "SQL built from user input" not in summaries[0]["body"]
    assert completed(stack, head2)[0]["conclusion"] == "failure"

    # The fixed SQL finding's review thread was resolved; the shell one's stays open.
    sql_thread = stack.github.thread_of(our_comment(stack, 8, SQL_LINE))["id"]
    shell_thread = stack.github.thread_of(our_comment(stack, 8, SHELL_LINE))["id"]
    assert stack.github.resolved_threads == [sql_thread]
    assert not stack.github.threads[shell_thread]["resolved"]


def test_false_positive_reply_and_thumbs_down_silence_the_next_run(
    stack: Stack, tmp_path: Path
) -> None:
    import asyncio

    from sqlalchemy import select

    from bot.store.db import create_engine, session_factory
    from bot.store.models import FindingRecord, TriageEvent

    repo = make_repo(tmp_path / "src", {"app.py": BASE})
    first_sha = commit(repo, {"app.py": HEAD}, "search and export")
    base_sha, head_sha = stack.set_pull(12, repo, "HEAD~1", "HEAD")
    stack.llm.findings = [llm_finding()]
    worker = stack.worker()
    assert stack.deliver("pull_request", pr_payload("opened", 12, base_sha, head_sha)).status_code
    wait_for(lambda: bool(completed(stack, head_sha)), timeout=90, what="first review",
             logs=[worker])
    assert completed(stack, head_sha)[0]["conclusion"] == "failure"

    # People with write access answer (anyone else's feedback is ignored,
    # tests/conversation): a 👎 on the SQL comment, a "false positive" reply to the shell one.
    stack.github.roles.update({"alice": "write", "bob": "maintain"})
    stack.github.react(our_comment(stack, 12, SQL_LINE), "-1", "alice")
    stack.github.reply(our_comment(stack, 12, SHELL_LINE), "False positive\ntarget is ours",
                       "bob")

    # A new push that leaves both lines as they were; the model reports SQL again.
    second_sha = commit(repo, {"app.py": HEAD + "\n# reviewed\n"}, "note")
    _, head2 = stack.set_pull(12, repo, base_sha, "HEAD")
    stack.repo.comparisons[(first_sha, second_sha)] = (
        first_sha, pull_files(repo, first_sha, second_sha))
    payload = pr_payload("synchronize", 12, base_sha, head2)
    assert stack.deliver("pull_request", payload).status_code == 202
    wait_for(lambda: bool(completed(stack, head2)), timeout=90, what="second review",
             logs=[worker])

    reviews = stack.github.submitted_reviews("Codertocat/Hello-World", 12)
    later = [c["line"] for r in reviews[1:] for c in r["comments"]]
    assert SQL_LINE not in later and SHELL_LINE not in later
    [summary] = summary_comments(stack)
    assert "SQL built from user input" not in summary["body"]
    assert completed(stack, head2)[0]["conclusion"] != "failure"
    assert stack.github.resolved_threads == []  # silenced, not fixed

    async def marked() -> tuple[dict[str, set[str]], list[tuple[str, str, str, str]]]:
        engine = create_engine(stack.env["DATABASE_URL"])
        async with session_factory(engine)() as session:
            rows = (await session.scalars(select(FindingRecord))).all()
            events = (await session.scalars(select(TriageEvent))).all()
        await engine.dispose()
        by_who: dict[str, set[str]] = {}
        for row in rows:
            if row.status == "false_positive":
                assert row.status_reason == "marked false positive in the pull request"
                by_who.setdefault(row.status_by or "", set()).add(row.title)
        history = sorted((e.actor, e.from_state, e.to_state, e.source) for e in events)
        return by_who, history

    by_who, history = asyncio.run(marked())
    assert by_who["alice"] == {"SQL built from user input"}
    assert set(by_who) == {"alice", "bob"}
    # The forge's dismiss flow went through the triage model: one event per decision.
    assert history == [("alice", "open", "false_positive", "github"),
                       ("bob", "open", "false_positive", "github")]


def test_worker_killed_mid_job_is_rerun_by_another_within_the_lease(
    stack: Stack, tmp_path: Path
) -> None:
    """Two workers at the default settings (JOB_TIMEOUT_S 900, JOB_LEASE_S 30); the one
    running the review is killed with SIGKILL during its model call. The other takes the job
    once the dead worker's lease runs out and concludes the same check run, with one review:
    not ~910 s later, as when arq's in-progress key lived for JOB_TIMEOUT_S + 10 s."""
    repo = make_repo(tmp_path / "src", {"app.py": BASE})
    commit(repo, {"app.py": HEAD}, "search and export")
    base_sha, head_sha = stack.set_pull(9, repo, "HEAD~1", "HEAD")
    stack.llm.findings = [llm_finding()]
    stack.llm.slow_s = 60.0
    stack.llm.script.set(["slow"])  # the first model call hangs: its worker dies during it
    assert "JOB_TIMEOUT_S" not in stack.env and "JOB_LEASE_S" not in stack.env
    # The model may take its time (the hang must outlast the kill); the rest is default.
    workers = [stack.worker(name, LLM_TIMEOUT_S="120") for name in ("worker-a", "worker-b")]
    assert (
        stack.deliver("pull_request", pr_payload("opened", 9, base_sha, head_sha)).status_code
        == 202
    )
    wait_for(lambda: len(stack.llm.requests) >= 1, timeout=90, what="the model call",
             logs=workers)
    running = [w for w in workers if ":review_pull_request(" in w.log()]
    assert len(running) == 1, [w.name for w in running]
    holder = running[0]
    survivor = next(w for w in workers if w is not holder)
    in_progress = [r for r in stack.check_runs() if r.get("head_sha") == head_sha]
    assert [r["status"] for r in in_progress] == ["in_progress"]
    holder.kill()
    killed = time.monotonic()

    # The lease (30 s) plus the re-run itself, with room for a loaded 2-core machine.
    wait_for(
        lambda: bool(completed(stack, head_sha)),
        timeout=150,
        what="the re-run after the kill",
        logs=[survivor],
    )
    took = time.monotonic() - killed
    assert ":review_pull_request(" in survivor.log() and "try=2" in survivor.log()
    runs = [r for r in stack.check_runs() if r.get("head_sha") == head_sha]
    outcome = [(r.get("conclusion"), r.get("output", {}).get("title")) for r in runs]
    assert len(stack.github.submitted_reviews("Codertocat/Hello-World", 9)) == 1, outcome
    assert len(runs) == 1, outcome  # the re-run concluded the check run the first run created
    assert runs[0]["conclusion"] == "failure", outcome
    # Not before the dead worker's lease ran out: 20-30 s after the kill when its heartbeat
    # kept time, a little less if a loaded machine delayed its last renewal.
    assert took >= 10, took
    assert len(summary_comments(stack)) == 1


def test_two_workers_run_each_job_once(stack: Stack, tmp_path: Path) -> None:
    heads = {}
    for number in (21, 22, 23, 24):
        repo = make_repo(tmp_path / f"src{number}", {"app.py": BASE})
        commit(repo, {"app.py": HEAD + f"\n# change {number}\n"}, "change")
        heads[number] = stack.set_pull(number, repo, "HEAD~1", "HEAD")
    stack.llm.findings = [llm_finding()]
    workers = [stack.worker("worker-a"), stack.worker("worker-b")]
    for number, (base_sha, head_sha) in heads.items():
        payload = pr_payload("opened", number, base_sha, head_sha)
        assert stack.deliver("pull_request", payload).status_code == 202
    wait_for(
        lambda: all(completed(stack, head) for _, head in heads.values()),
        timeout=240,
        what="four reviews",
        logs=workers,
    )
    for number in heads:
        assert len(stack.github.submitted_reviews("Codertocat/Hello-World", number)) == 1
    assert len(stack.check_runs()) == 4


def test_provider_down_still_posts_offline_findings(stack: Stack, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "src", {"app.py": BASE})
    commit(repo, {"app.py": HEAD}, "search and export")
    base_sha, head_sha = stack.set_pull(30, repo, "HEAD~1", "HEAD")
    worker = stack.worker(LLM_BASE_URL="http://127.0.0.1:9/v1", LLM_TIMEOUT_S="1")
    assert (
        stack.deliver("pull_request", pr_payload("opened", 30, base_sha, head_sha)).status_code
        == 202
    )
    wait_for(lambda: bool(completed(stack, head_sha)), timeout=90, what="the check", logs=[worker])
    run = completed(stack, head_sha)[0]
    assert run["conclusion"] == "failure"  # the offline shell-injection finding is high
    assert "partial audit" in run["output"]["title"].lower()
    reviews = stack.github.submitted_reviews("Codertocat/Hello-World", 30)
    assert {c["line"] for c in reviews[0]["comments"]} >= {SHELL_LINE}


def test_project_budget_stops_the_model_and_the_check_says_so(stack: Stack, tmp_path: Path) -> None:
    import asyncio

    from bot.store.db import create_engine, session_factory
    from bot.store.models import Project

    payload_repo = example("pull_request.opened")["repository"]

    async def seed() -> None:
        engine = create_engine(stack.env["DATABASE_URL"])
        async with session_factory(engine)() as session, session.begin():
            session.add(
                Project(
                    kind="github",
                    external_id=payload_repo["id"],
                    full_name=payload_repo["full_name"],
                    budget_per_task_usd=0.0001,
                )
            )
        await engine.dispose()

    asyncio.run(seed())
    repo = make_repo(tmp_path / "src", {"app.py": BASE})
    commit(repo, {"app.py": HEAD}, "search and export")
    base_sha, head_sha = stack.set_pull(31, repo, "HEAD~1", "HEAD")
    stack.llm.findings = [llm_finding()]
    worker = stack.worker()
    payload = pr_payload("opened", 31, base_sha, head_sha)
    assert stack.deliver("pull_request", payload).status_code == 202
    wait_for(lambda: bool(completed(stack, head_sha)), timeout=90, what="the check", logs=[worker])
    run = completed(stack, head_sha)[0]
    assert stack.llm.requests == []  # nothing was sent to the model
    assert "budget" in run["output"]["title"].lower()
    assert run["conclusion"] == "failure"  # offline findings still count


def test_worker_start_up_learns_the_slug_and_redelivers_failed_deliveries(
    stack: Stack, redis_url: str
) -> None:
    import time

    import redis

    from bot.jobs.contracts import APP_SLUG_KEY

    failed = stack.github.add_delivery(guid="lost-1", status_code=503,
                                       delivered_at=time.time() - 60)
    stack.github.add_delivery(guid="fine-1", delivered_at=time.time() - 50)
    stack.github.app_slug = "hello-auditor"
    worker = stack.worker(APP_SLUG="")  # unset: learned from GET /app
    # The reconciler runs at start-up: GitHub is asked to redeliver the failed event once.
    wait_for(lambda: stack.github.redelivered == [failed], timeout=60,
             what="the redelivery", logs=[worker])
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.get(APP_SLUG_KEY) == b"hello-auditor"
    finally:
        client.close()
    assert ("GET", "/app") in stack.github.requests


def test_a_question_and_a_dismissal_in_the_pull_request_reach_the_worker(
    stack: Stack, tmp_path: Path
) -> None:
    """issue_comment "/audit ask" and pull_request_review_comment (a reply in our thread),
    through the web process and Redis to a worker, answered where they were asked."""
    repo = make_repo(tmp_path / "src", {"app.py": BASE})
    commit(repo, {"app.py": HEAD}, "search and export")
    base_sha, head_sha = stack.set_pull(12, repo, "HEAD~1", "HEAD")
    stack.github.roles.update({"Codertocat": "admin"})
    worker = stack.worker()
    stack.deliver("pull_request", pr_payload("opened", 12, base_sha, head_sha))
    wait_for(lambda: bool(completed(stack, head_sha)), timeout=90, what="the review",
             logs=[worker])

    stack.llm.replies.append("`export` passes `target` to a shell at app.py:15.")
    ask = example("issue_comment.created")
    ask["issue"]["number"] = 12
    ask["issue"]["pull_request"] = {"url": "https://api.github.com/pulls/12"}
    ask["comment"]["body"] = "/audit ask what does export do with target?"
    assert stack.deliver("issue_comment", ask).status_code == 202

    first = our_comment(stack, 12, SHELL_LINE)
    reply = example("pull_request_review_comment.created")
    reply["pull_request"]["number"] = 12
    reply["comment"].update(in_reply_to_id=first, id=first + 10_000,
                            body="false positive: target is a fixed path we own")
    stack.github.reply(first, reply["comment"]["body"], "Codertocat")
    assert stack.deliver("pull_request_review_comment", reply).status_code == 202

    def answered() -> bool:
        asked = any("auditbot:answer" in c["payload"]["body"]
                    for c in stack.github.comments.values())
        acked = any("Marked as **false positive**" in p["body"]
                    for p in stack.github.replies_to(first))
        return asked and acked

    wait_for(answered, timeout=60, what="the answer and the acknowledgement", logs=[worker])
    [answer] = [c["payload"]["body"] for c in stack.github.comments.values()
                if "auditbot:answer" in c["payload"]["body"]]
    assert "passes `target` to a shell" in answer
