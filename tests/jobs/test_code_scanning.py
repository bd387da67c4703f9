"""GitHub code scanning, as the worker runs it against the fake GitHub: each audit's SARIF
upload (its request body checked against GitHub's OpenAPI description by the fake, its SARIF
against the SARIF 2.1.0 schema and GitHub's upload rules), its processing followed,
default-branch pushes uploaded with what the branch still has, a repository without
Advanced Security told once in the summary, and dismissals both ways."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

from sqlalchemy import select

from bot.events.github import jobs_for
from bot.events.registry import Delivery
from bot.findings import FindingStatus
from bot.jobs.alerts import SYNC_MARK_KEY, code_scanning_alert, sync_code_scanning
from bot.jobs.contracts import ScanPush
from bot.jobs.deps import JobDeps
from bot.jobs.review import review_pull_request
from bot.jobs.scans import scan_push
from bot.llm.service import build_llm_service
from bot.store.models import AuditTask, FindingRecord, TriageEvent
from bot.store.triage import TriageSource, triage
from tests.conversation.conftest import fake_llm, with_model
from tests.fakes.fake_code_scanning import NO_GHAS, ingestion_errors
from tests.fakes.fake_github import FakeGitHub, PullFile
from tests.fakes.fake_openai import FakeOpenAI
from tests.jobs.conftest import ctx_of
from tests.jobs.test_review_job import CODE, HEAD, REPO, payload, prepare

__all__ = ["fake_llm"]

FULL = "octo/demo"


def uploads(fake: FakeGitHub) -> list[dict[str, Any]]:
    """Each upload's body, with its SARIF decoded (gunzip of base64)."""
    return [{**body, "log": json.loads(gzip.decompress(base64.b64decode(body["sarif"])))}
            for body in fake.code_scanning.bodies]


async def task_of(deps: JobDeps, job_id: str) -> AuditTask:
    async with deps.sessions() as session:
        task = await session.scalar(select(AuditTask).where(AuditTask.job_id == job_id))
    assert task is not None
    return task


async def test_a_pull_request_audit_is_uploaded_and_followed(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare(fake_github)
    fake_github.code_scanning.polls_until_processed = 1
    assert await review_pull_request(ctx_of(deps, "r:cs"), payload()) == "succeeded"
    [upload] = uploads(fake_github)
    assert (upload["commit_sha"], upload["ref"]) == (HEAD, "refs/pull/5/head")
    log = upload["log"]
    assert ingestion_errors(log) == []  # SARIF 2.1.0 schema and GitHub's upload rules
    [run] = log["runs"]  # no model configured: the offline analyzers' run only
    assert run["tool"]["driver"]["name"] == "auditbot-static"
    assert run["automationDetails"]["id"].startswith("auditbot/static/")
    results = run["results"]
    assert results and all("auditbot/v1" in r["partialFingerprints"] for r in results)
    async with deps.sessions() as session:
        stored = {f.fingerprint for f in await session.scalars(select(FindingRecord))}
    assert {r["partialFingerprints"]["auditbot/v1"] for r in results} == stored
    record = (await task_of(deps, "r:cs")).progress["code_scanning"]
    assert record["status"] == "complete" and record["ref"] == "refs/pull/5/head"
    assert fake_github.code_scanning.uploads[record["sarif_id"]]["polls"] == 2
    scanning = fake_github.code_scanning
    assert {scanning.state(a) for a in scanning.alerts[FULL].values()} == {"open"}


async def test_with_a_model_each_tool_has_its_own_category(
    deps: JobDeps, fake_github: FakeGitHub, fake_llm: tuple[FakeOpenAI, str]
) -> None:
    prepare(fake_github)
    llm, url = fake_llm
    llm.findings = [{
        "path": "tool.py", "start_line": 5, "end_line": 5, "severity": "high",
        "category": "security", "cwe": "CWE-78", "title": "Shell command from input",
        "message": "x reaches a shell.", "suggestion": None,
        "quote": '    subprocess.call("ls " + x, shell=True)', "confidence": 0.9}]
    deps.settings = with_model(deps.settings, url)
    deps.llm = build_llm_service(deps.settings, deps.redis)
    try:
        assert await review_pull_request(ctx_of(deps, "r:llm"), payload()) == "succeeded"
    finally:
        await deps.llm.aclose()
        deps.llm = None
    [upload] = uploads(fake_github)
    assert ingestion_errors(upload["log"]) == []
    runs = {r["tool"]["driver"]["name"]: r for r in upload["log"]["runs"]}
    assert set(runs) == {"auditbot-llm", "auditbot-static"}
    categories = {r["automationDetails"]["id"].rsplit("/", 1)[0] for r in runs.values()}
    assert categories == {"auditbot/llm", "auditbot/static"}


def push(before: str, after: str) -> dict[str, Any]:
    return ScanPush(repository=REPO, ref="refs/heads/main", before=before, after=after,
                    delivery_id=f"d-{after[:4]}").model_dump(mode="json")


def added(path: str, code: str) -> PullFile:
    lines = code.splitlines()
    return PullFile(path, "added", f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join(
        "+" + line for line in lines), len(lines), 0)


async def test_default_branch_pushes_keep_what_the_branch_still_has(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    repo = fake_github.repos[FULL]
    one, two, three = "1" * 40, "2" * 40, "3" * 40
    other = 'import pickle\n\n\ndef load(blob):\n    return pickle.loads(blob)\n'
    repo.trees[two] = {"tool.py": CODE.encode()}
    repo.trees[three] = {"tool.py": CODE.encode(), "load.py": other.encode()}
    repo.comparisons[(one, two)] = (one, [added("tool.py", CODE)])
    repo.comparisons[(two, three)] = (two, [added("load.py", other)])
    repo.trees["main"] = {}
    assert await scan_push(ctx_of(deps, "p:1"), push(one, two)) == "succeeded"
    assert await scan_push(ctx_of(deps, "p:2"), push(two, three)) == "succeeded"
    first, second = uploads(fake_github)
    assert (first["ref"], first["commit_sha"], second["commit_sha"]) == (
        "refs/heads/main", two, three)
    paths = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
             for run in second["log"]["runs"] for r in run["results"]}
    # The second push changed only load.py: tool.py's findings still stand on the branch.
    assert paths == {"tool.py", "load.py"}
    assert ingestion_errors(second["log"]) == []
    states = {a["instances"]["refs/heads/main"]["path"]: fake_github.code_scanning.state(a)
              for a in fake_github.code_scanning.alerts[FULL].values()}
    assert set(states.values()) == {"open"} and set(states) == {"tool.py", "load.py"}


async def test_without_advanced_security_the_summary_says_so_and_the_audit_succeeds(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare(fake_github)
    fake_github.code_scanning.mode = "no-ghas"
    assert await review_pull_request(ctx_of(deps, "r:ghas"), payload()) == "succeeded"
    [summary] = [c["payload"]["body"] for c in fake_github.comments.values()]
    assert summary.count("GitHub code scanning refused") == 1 and NO_GHAS in summary
    [run] = fake_github.check_runs.values()
    assert run["conclusion"] == "failure"  # the findings decide, not code scanning
    # The next audit does not ask again for a while, and still says why.
    posts = [p for m, p in fake_github.requests if m == "POST" and "sarifs" in p]
    prepare(fake_github)
    fake_github.repos[FULL].pulls[5].head_sha = "e" * 40
    fake_github.repos[FULL].trees["e" * 40] = {"tool.py": CODE.encode()}
    assert await review_pull_request(ctx_of(deps, "r:ghas2"),
                                     payload(head_sha="e" * 40, delivery_id="d2")) == "succeeded"
    assert [p for m, p in fake_github.requests if m == "POST" and "sarifs" in p] == posts
    [summary] = [c["payload"]["body"] for c in fake_github.comments.values()]
    assert summary.count("GitHub code scanning refused") == 1


async def test_an_app_without_the_permission_or_an_opted_out_repository_uploads_nothing(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare(fake_github)
    fake_github.code_scanning.mode = "no-permission"
    assert await review_pull_request(ctx_of(deps, "r:perm"), payload()) == "succeeded"
    [summary] = [c["payload"]["body"] for c in fake_github.comments.values()]
    assert "code scanning" not in summary  # the operator did not choose it: no noise
    fake_github.code_scanning.mode = "enabled"
    await deps.redis.flushdb()  # past the remembered refusal
    prepare(fake_github, config="code_scanning: false\n")
    assert await review_pull_request(ctx_of(deps, "r:opt"),
                                     payload(delivery_id="d3")) == "succeeded"
    assert fake_github.code_scanning.bodies == []


async def test_the_fake_refuses_what_github_would_not_process(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """The checks the upload test relies on are not vacuous."""
    bad = {"version": "2.1.0", "runs": [
        {"tool": {"driver": {"name": "auditbot-static"}}, "automationDetails": {"id": "a/1"},
         "results": [{"message": {"text": "m"}, "ruleId": "r", "locations": [
             {"physicalLocation": {"artifactLocation": {"uri": "/etc/passwd"}}}]}]},
        {"tool": {"driver": {"name": "auditbot-static"}}, "automationDetails": {"id": "a/2"},
         "results": []}]}
    errors = ingestion_errors(bad)
    assert any("relative artifact location" in e for e in errors)
    assert any("more than one run of tool" in e for e in errors)
    assert any("startLine" in e for e in errors)
    assert ingestion_errors({"version": "2.1.0", "runs": [{"tool": {}}]})  # schema


async def review_and_alert(deps: JobDeps, fake: FakeGitHub) -> tuple[dict[str, Any], str]:
    prepare(fake)
    assert await review_pull_request(ctx_of(deps, "r:a"), payload()) == "succeeded"
    async with deps.sessions() as session:
        row = await session.scalar(select(FindingRecord).where(FindingRecord.path == "tool.py",
                                                               FindingRecord.start_line == 5))
    assert row is not None
    [alert] = [a for a in fake.code_scanning.alerts[FULL].values()
               if a["key"][2] == json.dumps({"auditbot/v1": row.fingerprint})]
    return alert, row.fingerprint


async def test_a_dismissal_in_the_security_tab_reaches_triage(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    alert, fingerprint = await review_and_alert(deps, fake_github)
    event = fake_github.code_scanning.dismiss(FULL, alert["number"], "won't fix",
                                              "only our CI runs this", "octocat")
    event["repository"].update(id=REPO.id, default_branch="main")
    [job] = jobs_for(Delivery("github", "code_scanning_alert", "closed_by_user", "d-alert",
                              "auditbot"), event)
    assert await code_scanning_alert(ctx_of(deps, job.job_id), job.args()[0]) == "wont_fix"
    async with deps.sessions() as session:
        states = {r.status for r in await session.scalars(
            select(FindingRecord).where(FindingRecord.fingerprint == fingerprint))}
        [triaged] = list(await session.scalars(select(TriageEvent)))
    assert states == {"wont_fix"}
    assert (triaged.source, triaged.actor, triaged.reason) == (
        "code_scanning", "octocat", "only our CI runs this")
    # The decision is not sent back to GitHub.
    await deps.redis.set(SYNC_MARK_KEY, 0)
    assert await sync_code_scanning(ctx_of(deps, "cron")) == 0
    assert fake_github.code_scanning.patches == []
    # Later audits of the repository stay silent on it.
    fake_github.repos[FULL].pulls[5].head_sha = "e" * 40
    fake_github.repos[FULL].trees["e" * 40] = {"tool.py": CODE.encode()}
    await review_pull_request(ctx_of(deps, "r:later"), payload(head_sha="e" * 40,
                                                                delivery_id="d9"))
    run = next(r for r in fake_github.check_runs.values() if r["head_sha"] == "e" * 40)
    assert not any(a["start_line"] == 5 for a in run["annotations"])


async def test_a_triage_in_auditbot_dismisses_and_reopens_the_alert(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    alert, fingerprint = await review_and_alert(deps, fake_github)
    assert await sync_code_scanning(ctx_of(deps, "cron")) == 0  # the first run sets its mark

    async def decide(state: FindingStatus, reason: str | None) -> None:
        async with deps.sessions() as session, session.begin():
            row = await session.scalar(select(FindingRecord).where(
                FindingRecord.fingerprint == fingerprint))
            assert row is not None
            await triage(session, row, state, actor="ann@example.com", reason=reason,
                         source=TriageSource.API)

    await decide(FindingStatus.FALSE_POSITIVE, "x comes from our own config " * 20)
    assert await sync_code_scanning(ctx_of(deps, "cron")) == 1
    number, body = fake_github.code_scanning.patches[-1]
    assert number == alert["number"] and body["state"] == "dismissed"
    assert body["dismissed_reason"] == "false positive" and len(body["dismissed_comment"]) == 280
    assert fake_github.code_scanning.state(alert) == "dismissed"
    assert await sync_code_scanning(ctx_of(deps, "cron")) == 0  # nothing new
    await decide(FindingStatus.CONFIRMED, "on second thought")
    assert await sync_code_scanning(ctx_of(deps, "cron")) == 1
    assert fake_github.code_scanning.patches[-1][1] == {"state": "open"}
    assert fake_github.code_scanning.state(alert) == "open"

