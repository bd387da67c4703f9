"""GitLab hook (X-Gitlab-Token) -> web process -> Redis -> worker process -> fake GitLab and
fake LLM: the discussions, notes and commit status that GitLab would show.

Payloads are gitlab.com captures and GitLab's documentation examples. The only changes
made to them are the commit SHAs (the fake serves a git repository built by the test, so
the payload must name its commits) and what each comment says where noted.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from arq.jobs import JobStatus

from bot.forges.base import COMMENT_MARKER_PREFIX, review_marker
from bot.forges.conversation import answer_marker
from bot.jobs.catch_up import LAST_RUN_KEY as CATCH_UP_KEY
from bot.jobs.contracts import RUN_COMMAND, requested_job_id
from tests.e2e.gitlab_stack import (
    GitLabStack,
    capture,
    doc_example,
    file_diffs,
    gitlab_stack,
    sha,
    tree,
)
from tests.support.gitrepo import commit, git, make_repo
from tests.support.processes import wait_for

pytestmark = pytest.mark.slow

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
SHELL_LINE = 15  # the offline analyzers find this one (high) without the model
HEAD2 = (
    HEAD.replace(
        '    query = "SELECT * FROM users WHERE name = \'" + name + "\'"\n'
        "    return db.execute(query).fetchall()\n",
        '    return db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchall()\n',
    )
    + "\n\ndef load(blob):\n    import pickle\n\n    return pickle.loads(blob)\n"
)
QUIET = BASE + "\n\ndef count(db):\n    return len(find(db, 'x'))\n"
UTIL = "import subprocess\n\n\n" + "".join(
    f"def double_{n}(value):\n    return value * {n}\n\n\n" for n in range(2, 8)
)
RENAMED = UTIL + "def run(command):\n    return subprocess.call(command, shell=True)\n"
RENAMED_LINE = len(RENAMED.splitlines())


def llm_finding() -> dict[str, Any]:
    return {
        "path": "app.py",
        "start_line": SQL_LINE,
        "end_line": SQL_LINE,
        "severity": "high",
        "category": "security",
        "cwe": "CWE-89",
        "title": "SQL built from user input",
        "message": "name is concatenated into the query; use a parameter.",
        "suggestion": None,
        "quote": 'query = "SELECT * FROM users WHERE name = \'" + name + "\'"',
        "confidence": 0.9,
    }


@pytest.fixture
def stack(tmp_path: Path, redis_url: str) -> Iterator[GitLabStack]:
    with gitlab_stack(tmp_path, redis_url) as running:
        yield running


def merge_request_repo(root: Path, head_text: str, *, rename: bool = False) -> Path:
    """A target branch that moved on after the MR branched, so the MR version's base
    (merge base) and start (target tip) SHAs differ, as they do on a busy project.
    ``rename``: the MR also renames util.py to helpers.py and adds a line to it."""
    repo = make_repo(root, {"app.py": BASE, "util.py": UTIL})
    git(repo, "checkout", "-q", "-b", "feature")
    renamed: dict[str, str | None] = {"util.py": None, "helpers.py": RENAMED} if rename else {}
    commit(repo, {"app.py": head_text, **renamed}, "search and export")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"README.md": "docs\n"}, "docs")
    git(repo, "checkout", "-q", "feature")
    return repo


def open_payload(head_sha: str) -> dict[str, Any]:
    payload = capture("open")
    payload["object_attributes"]["last_commit"]["id"] = head_sha
    return payload


def positions(stack: GitLabStack, pid: int, iid: int) -> list[dict[str, Any]]:
    return [d["notes"][0]["position"] for d in stack.discussions(pid, iid)]


def test_merge_request_opened_is_reviewed(stack: GitLabStack, tmp_path: Path) -> None:
    payload = open_payload("")
    pid, iid = stack.project(payload), payload["object_attributes"]["iid"]
    branch = payload["object_attributes"]["source_branch"]
    repo = merge_request_repo(tmp_path / "src", HEAD, rename=True)
    base, start, head = stack.push_mr_version(
        pid, iid, repo, base="main~1", start="main", head="feature", source_branch=branch
    )
    assert base != start
    stack.llm.findings = [llm_finding()]
    worker = stack.worker()

    response = stack.deliver("Merge Request Hook", open_payload(head))
    assert response.status_code == 202, response.text
    wait_for(
        lambda: bool(stack.concluded(head)),
        timeout=40,
        what="the commit status",
        logs=[worker, stack.web],
    )

    [status] = stack.statuses(head)
    assert (status["name"], status["project_id"], status["ref"]) == ("auditbot", pid, branch)
    assert status["history"][0]["state"] in ("pending", "running")
    assert status["status"] == "failed"
    assert "at or above high" in status["description"]
    assert status["target_url"].startswith("http://auditbot.test/reports/")

    found = positions(stack, pid, iid)
    where = sorted((p["old_path"], p["new_path"], p["new_line"]) for p in found)
    assert where == [
        ("app.py", "app.py", SQL_LINE),
        ("app.py", "app.py", SHELL_LINE),
        ("util.py", "helpers.py", RENAMED_LINE),
    ]
    for position in found:
        assert (position["base_sha"], position["start_sha"], position["head_sha"]) == (
            base,
            start,
            head,
        )
        assert "old_line" not in position  # added lines: new_line only
    sql = next(
        d for d in stack.discussions(pid, iid) if d["notes"][0]["position"]["new_line"] == SQL_LINE
    )
    assert "SQL built from user input" in sql["notes"][0]["body"]

    [summary] = stack.summaries(pid, iid)
    assert "SQL built from user input" in summary["body"]
    assert any(review_marker(head) in n["body"] for n in stack.general_notes(pid, iid))


def test_partial_audit_without_blocking_findings_is_a_success_that_says_so(
    stack: GitLabStack, tmp_path: Path
) -> None:
    payload = open_payload("")
    pid, iid = stack.project(payload), payload["object_attributes"]["iid"]
    repo = merge_request_repo(tmp_path / "src", QUIET)
    _, _, head = stack.push_mr_version(pid, iid, repo, base="main~1", start="main", head="feature")
    # The model is down: the offline analyzers run, and find nothing in this change.
    worker = stack.worker(LLM_BASE_URL="http://127.0.0.1:9/v1", LLM_TIMEOUT_S="1")
    assert stack.deliver("Merge Request Hook", open_payload(head)).status_code == 202
    wait_for(lambda: bool(stack.concluded(head)), timeout=40, what="the status", logs=[worker])

    [status] = stack.statuses(head)
    assert status["status"] == "success"  # GitLab has no neutral state
    assert status["description"].lower().startswith("partial audit")
    assert stack.discussions(pid, iid) == []
    assert len(stack.summaries(pid, iid)) == 1


def test_config_is_read_at_the_merge_base_not_the_target_tip(
    stack: GitLabStack, tmp_path: Path
) -> None:
    """GitLab's hook names no base SHA: the latest MR version's base decides the rules, not
    the target branch's tip (which moved on) nor the MR's head."""
    payload = open_payload("")
    pid, iid = stack.project(payload), payload["object_attributes"]["iid"]
    target = payload["object_attributes"]["target_branch"]
    repo = merge_request_repo(tmp_path / "src", HEAD)
    base, _, head = stack.push_mr_version(pid, iid, repo, base="main~1", start="main",
                                          head="feature")
    project = stack.gitlab.projects[pid]
    lenient = b"review:\n  fail_on: critical\n"
    project.trees[base] = {".auditbot.yml": lenient}
    project.trees[target] = {".auditbot.yml": b"review:\n  fail_on: low\n"}
    project.trees[head][".auditbot.yml"] = b"enabled: false\n"
    worker = stack.worker()
    assert stack.deliver("Merge Request Hook", open_payload(head)).status_code == 202
    wait_for(lambda: bool(stack.concluded(head)), timeout=40, what="the status", logs=[worker])

    [status] = stack.statuses(head)
    assert status["status"] == "success", status  # the high shell finding is under critical
    assert any(p["new_line"] == SHELL_LINE for p in positions(stack, pid, iid))


def test_update_with_new_commits_posts_only_new_findings(
    stack: GitLabStack, tmp_path: Path
) -> None:
    update = capture("update")
    pid, iid = stack.project(update), update["object_attributes"]["iid"]
    repo = merge_request_repo(tmp_path / "src", HEAD)
    base, start, first = stack.push_mr_version(
        pid, iid, repo, base="main~1", start="main", head="feature"
    )
    # The captures hold no `open` of the MR the `update` capture describes: the `open`
    # capture is pointed at that project and MR.
    opened = open_payload(first)
    opened["project"] = update["project"]
    opened["object_attributes"].update(
        iid=iid, source_project_id=pid, target_project_id=pid, source_branch="feature"
    )
    stack.llm.findings = [llm_finding()]
    worker = stack.worker()
    assert stack.deliver("Merge Request Hook", opened).status_code == 202
    wait_for(lambda: bool(stack.concluded(first)), timeout=40, what="first review", logs=[worker])
    [first_summary] = stack.summaries(pid, iid)
    first_summary_body = first_summary["body"]
    assert sorted(p["new_line"] for p in positions(stack, pid, iid)) == [SQL_LINE, SHELL_LINE]

    # New commit: the SQL problem is fixed, a pickle problem is new, the shell one stays
    # (one line higher).
    commit(repo, {"app.py": HEAD2}, "fix sql, add load")
    _, _, second = stack.push_mr_version(pid, iid, repo, base=base, start=start, head="feature")
    stack.gitlab.projects[pid].comparisons[(first, second)] = file_diffs(repo, first, second)
    stack.llm.findings = []
    update["object_attributes"]["last_commit"]["id"] = second
    update["object_attributes"]["oldrev"] = first
    assert stack.deliver("Merge Request Hook", update).status_code == 202
    wait_for(lambda: bool(stack.concluded(second)), timeout=40, what="re-review", logs=[worker])

    new = [p for p in positions(stack, pid, iid) if p["head_sha"] == second]
    lines = HEAD2.splitlines()
    load_line = lines.index("def load(blob):") + 1
    pickle_line = lines.index("    return pickle.loads(blob)") + 1
    assert pickle_line in {p["new_line"] for p in new}
    assert {p["new_line"] for p in new} <= set(range(load_line, pickle_line + 1))
    keys = [
        re.findall(re.escape(COMMENT_MARKER_PREFIX) + r"(\S+)", d["notes"][0]["body"])
        for d in stack.discussions(pid, iid)
    ]
    assert all(len(k) == 1 for k in keys)
    assert len({k[0] for k in keys}) == len(keys)  # no finding posted twice

    [summary] = stack.summaries(pid, iid)
    assert summary["id"] == first_summary["id"]  # the same note, edited in place
    assert summary["body"] != first_summary_body
    assert "SQL built from user input" not in summary["body"]
    assert stack.concluded(second)[0]["status"] == "failed"  # shell and pickle remain


def test_update_without_new_commits_enqueues_nothing(stack: GitLabStack) -> None:
    update = capture("update")
    # The same hook without `oldrev` is what GitLab sends for a title, label or assignee
    # change (docs: "oldrev ... only when there are actual code changes").
    no_commits = {**update, "object_attributes": dict(update["object_attributes"])}
    del no_commits["object_attributes"]["oldrev"]
    response = stack.deliver("Merge Request Hook", no_commits)
    assert response.status_code == 200, response.text
    assert stack.queued_jobs() == 0
    # The control: the capture as it came (with oldrev) is enqueued.
    assert stack.deliver("Merge Request Hook", update).status_code == 202
    assert stack.queued_jobs() == 1
    assert stack.gitlab.requests == []  # the web process never calls GitLab


def note_payload(head_sha: str) -> dict[str, Any]:
    payload = doc_example("note.merge_request")
    payload["object_attributes"]["note"] = "/audit"  # the example's text is not a command
    payload["merge_request"]["last_commit"]["id"] = head_sha
    return payload


def prepare_note_mr(stack: GitLabStack, tmp_path: Path, access_level: int) -> tuple[int, str]:
    payload = note_payload("")
    pid, iid = stack.project(payload), payload["merge_request"]["iid"]
    repo = merge_request_repo(tmp_path / "src", HEAD)
    _, _, head = stack.push_mr_version(pid, iid, repo, base="main~1", start="main", head="feature")
    author = payload["user"]["username"]
    stack.gitlab.usernames.append(author)
    stack.gitlab.members[(pid, author)] = access_level
    # No hook ever told auditbot of this merge request, so the reconciler's catch-up would
    # queue a review of its head as soon as the command's task makes the project active
    # (a race with the worker's start-up run): these tests look at the command alone.
    with contextlib.closing(redis.Redis.from_url(stack.env["REDIS_URL"])) as client:
        client.set(f"{CATCH_UP_KEY}:gitlab", "1", ex=600)
    return pid, head


def test_audit_command_from_a_developer_reviews(stack: GitLabStack, tmp_path: Path) -> None:
    pid, head = prepare_note_mr(stack, tmp_path, access_level=30)
    stack.llm.findings = [llm_finding()]
    worker = stack.worker()
    assert stack.deliver("Note Hook", note_payload(head)).status_code == 202
    wait_for(lambda: bool(stack.concluded(head)), timeout=40, what="the review", logs=[worker])
    assert stack.concluded(head)[0]["status"] == "failed"
    assert sorted(p["new_line"] for p in positions(stack, pid, 1)) == [SQL_LINE, SHELL_LINE]
    assert len(stack.summaries(pid, 1)) == 1


def test_audit_command_below_developer_does_nothing(stack: GitLabStack, tmp_path: Path) -> None:
    pid, head = prepare_note_mr(stack, tmp_path, access_level=20)  # Reporter
    worker = stack.worker()
    delivery = "5f0d5d8e-0000-4000-8000-000000000020"
    assert stack.deliver("Note Hook", note_payload(head), delivery=delivery).status_code == 202
    job_id = requested_job_id(RUN_COMMAND, "gitlab", pid, 1, delivery)
    wait_for(
        lambda: stack.job_status(job_id)[0] == JobStatus.complete,
        timeout=40,
        what="the command job",
        logs=[worker],
    )
    assert stack.job_status(job_id)[1] == "ignored"
    assert ("GET", f"/api/v4/projects/{pid}/members/all/1000") in stack.gitlab.requests
    assert stack.gitlab.statuses == []
    assert stack.notes(pid, 1) == []
    assert stack.llm.requests == []


def test_refused_position_becomes_a_general_note(stack: GitLabStack, tmp_path: Path) -> None:
    payload = open_payload("")
    pid, iid = stack.project(payload), payload["object_attributes"]["iid"]
    repo = merge_request_repo(tmp_path / "src", HEAD)
    _, _, head = stack.push_mr_version(pid, iid, repo, base="main~1", start="main", head="feature")
    # GitLab refuses the first inline thread with its line-code error, as it does when its
    # stored diff no longer matches the position.
    stack.gitlab.inject(
        "POST",
        rf"/projects/{pid}/merge_requests/{iid}/discussions$",
        400,
        message="400 Bad request - Note {:line_code=>[\"can't be blank\", "
        '"must be a valid line code"]}',
    )
    stack.llm.findings = [llm_finding()]
    worker = stack.worker()
    assert stack.deliver("Merge Request Hook", open_payload(head)).status_code == 202
    wait_for(lambda: bool(stack.concluded(head)), timeout=40, what="the review", logs=[worker])

    [placed] = positions(stack, pid, iid)
    moved = [
        n for n in stack.general_notes(pid, iid) if n["body"].startswith(COMMENT_MARKER_PREFIX)
    ]
    assert len(moved) == 1
    [(path, line)] = re.findall(r"`([^`]+)` line (\d+)", moved[0]["body"])
    assert path == "app.py"
    assert sorted([placed["new_line"], int(line)]) == [SQL_LINE, SHELL_LINE]
    assert stack.concluded(head)[0]["status"] == "failed"


def test_push_to_the_default_branch_is_scanned(stack: GitLabStack, tmp_path: Path) -> None:
    payload = doc_example("push")
    pid = stack.project(payload)
    repo = make_repo(tmp_path / "src", {"app.py": BASE})
    before = sha(repo, "HEAD")
    after = commit(repo, {"app.py": HEAD}, "search and export")
    project = stack.gitlab.projects[pid]
    project.commits.update({before, after})
    project.trees[after] = tree(repo, after)
    project.comparisons[(before, after)] = file_diffs(repo, before, after)
    payload["before"], payload["after"] = before, after  # the example's SHAs are not ours
    payload["checkout_sha"] = after
    stack.llm.findings = [llm_finding()]
    worker = stack.worker()
    assert stack.deliver("Push Hook", payload).status_code == 202
    wait_for(lambda: bool(stack.concluded(after)), timeout=40, what="the scan", logs=[worker])

    [status] = stack.gitlab.statuses
    assert (status["sha"], status["project_id"], status["name"]) == (after, pid, "auditbot")
    assert status["history"][0]["state"] in ("pending", "running")
    assert status["status"] == "failed"
    assert stack.gitlab.notes == {} and stack.gitlab.discussions == {}


def test_audit_full_command_scans_the_tree_without_commenting(
    stack: GitLabStack, tmp_path: Path
) -> None:
    pid, head = prepare_note_mr(stack, tmp_path, access_level=40)  # Maintainer
    stack.llm.findings = [llm_finding()]
    worker = stack.worker()
    payload = note_payload(head)
    payload["object_attributes"]["note"] = "/audit full"
    assert stack.deliver("Note Hook", payload).status_code == 202
    wait_for(lambda: bool(stack.concluded(head)), timeout=40, what="the scan", logs=[worker])

    [status] = stack.statuses(head)
    assert (status["project_id"], status["name"], status["status"]) == (pid, "auditbot", "failed")
    # The whole tree at the MR head, not the diff: both findings of app.py count.
    assert "2 findings at or above high" in status["description"]
    assert stack.notes(pid, 1) == [] and stack.discussions(pid, 1) == []


def test_audit_cancel_stops_a_running_review(stack: GitLabStack, tmp_path: Path) -> None:
    pid, head = prepare_note_mr(stack, tmp_path, access_level=30)
    stack.llm.findings = [llm_finding()]
    stack.llm.slow_s = 25.0
    stack.llm.script.set(["slow"])  # the review's model call hangs until it is cancelled
    worker = stack.worker()
    review_delivery = "5f0d5d8e-0000-4000-8000-000000000031"
    assert (
        stack.deliver("Note Hook", note_payload(head), delivery=review_delivery).status_code
        == 202
    )
    wait_for(lambda: len(stack.llm.requests) >= 1, timeout=30, what="the model call", logs=[worker])
    assert [s["status"] for s in stack.statuses(head)] == ["running"]

    cancel = note_payload(head)
    cancel["object_attributes"]["note"] = "/audit cancel"
    cancel["object_attributes"]["id"] += 1  # a second comment
    assert stack.deliver("Note Hook", cancel).status_code == 202
    wait_for(lambda: bool(stack.concluded(head)), timeout=30, what="the cancel", logs=[worker])
    review_job = requested_job_id(RUN_COMMAND, "gitlab", pid, 1, review_delivery)
    wait_for(
        lambda: stack.job_status(review_job)[0] == JobStatus.complete,
        timeout=30,
        what="the review job to stop",
        logs=[worker],
    )

    [status] = stack.statuses(head)
    assert status["status"] == "canceled"
    assert "cancelled by root" in status["description"]
    assert stack.discussions(pid, 1) == [] and stack.summaries(pid, 1) == []
    [reply] = stack.general_notes(pid, 1)
    # The answer carries the marker of the comment it answers (a re-run posts no second one).
    marker = answer_marker(cancel["object_attributes"]["id"])
    assert reply["body"] == f"{marker}\nauditbot: cancelled 1 audit(s) of this pull request."
