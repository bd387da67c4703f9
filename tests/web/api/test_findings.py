"""Findings: filters, triage with who and why, and a false positive staying silent through its
fingerprint: `bot.store.audits.silenced_fingerprints`, what the review, push and scan jobs
hand the pipeline, answers with the fingerprints the API dismissed."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.store.audits import silenced_fingerprints
from bot.store.db import create_engine, session_factory
from tests.web.api.conftest import Api


def _silenced(api: Api, project_id: int) -> frozenset[str]:
    async def ask() -> frozenset[str]:
        engine = create_engine(api.settings.database_url)
        try:
            return await silenced_fingerprints(session_factory(engine), project_id)
        finally:
            await engine.dispose()

    return asyncio.run(ask())


def test_filters(db_api: Api) -> None:
    api = db_api
    project = api.project()
    other = api.project()
    task = api.task(project)
    a = api.finding(task, severity="critical", category="security", path="src/db.py")
    b = api.finding(task, severity="low", category="style", path="src/ui/view.py")
    c = api.finding(task, severity="medium", category="bug", path="src_other/x.py",
                    status="fixed")
    api.finding(api.task(other), severity="critical")
    client = api.as_user(api.user(admin=True))

    def ids(**params: Any) -> set[int]:
        answer = client.get("/api/v1/findings", params={"project_id": project.id, **params})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["total"] == len(body["items"])
        return {f["id"] for f in body["items"]}

    assert ids() == {a.id, b.id, c.id}
    assert ids(severity="critical") == {a.id}
    assert ids(min_severity="medium") == {a.id, c.id}
    assert ids(category="style") == {b.id}
    assert ids(status="fixed") == {c.id}
    assert ids(path="src/") == {a.id, b.id}  # a folder prefix, not "src_other/"
    assert ids(path="src/db.py") == {a.id}
    assert ids(task_id=task.id, severity="low") == {b.id}
    assert client.get("/api/v1/findings", params={"severity": "urgent"}).status_code == 422


def test_false_positive_is_recorded_and_silences_the_fingerprint(api: Api) -> None:
    project = api.project()
    first = api.task(project)
    later = api.task(project)
    old = api.finding(first, fingerprint="fp-1")
    again = api.finding(later, fingerprint="fp-1")
    unrelated = api.finding(later, fingerprint="fp-2")
    elsewhere = api.finding(api.task(api.project()), fingerprint="fp-1")
    member = api.user("triager@example.com")
    api.grant(member, project)
    client = api.as_user(member)
    answer = client.patch(f"/api/v1/findings/{old.id}",
                          json={"status": "false_positive", "reason": "input is a constant"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["status_reason"], body["status_by"]) == (
        "false_positive", "input is a constant", "triager@example.com")
    assert client.get(f"/api/v1/findings/{again.id}").json()["status"] == "false_positive"
    assert client.get(f"/api/v1/findings/{unrelated.id}").json()["status"] == "open"
    admin = api.as_user(api.user(admin=True))
    assert admin.get(f"/api/v1/findings/{elsewhere.id}").json()["status"] == "open"

    assert _silenced(api, project.id) == {"fp-1"}
    # Won't fix silences too; re-opened, no longer silent.
    assert client.patch(f"/api/v1/findings/{unrelated.id}",
                        json={"status": "wont_fix"}).status_code == 200
    assert _silenced(api, project.id) == {"fp-1", "fp-2"}
    for finding in (old, unrelated):
        client.patch(f"/api/v1/findings/{finding.id}", json={"status": "open"})
    assert _silenced(api, project.id) == frozenset()


def test_bad_status_is_refused(api: Api) -> None:
    task = api.task(api.project())
    finding = api.finding(task)
    client = api.as_user(api.user(admin=True))
    answer = client.patch(f"/api/v1/findings/{finding.id}", json={"status": "ignored"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["status"]


def test_history_records_who_when_why_and_where(api: Api) -> None:
    project = api.project()
    first = api.finding(api.task(project), fingerprint="fp-h")
    again = api.finding(api.task(project), fingerprint="fp-h")
    member = api.user("dev@example.com")
    api.grant(member, project)
    client = api.as_user(member)
    client.patch(f"/api/v1/findings/{first.id}", json={"status": "confirmed",
                                                        "reason": "reproduced"})
    client.patch(f"/api/v1/findings/{again.id}", json={"status": "wont_fix",
                                                        "reason": "legacy endpoint"})
    # The same state again is no new decision: no event.
    client.patch(f"/api/v1/findings/{again.id}", json={"status": "wont_fix"})
    answer = client.get(f"/api/v1/findings/{first.id}/history")
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [(i["from_state"], i["to_state"], i["actor"], i["reason"], i["source"])
            for i in items] == [
        ("confirmed", "wont_fix", "dev@example.com", "legacy endpoint", "api"),
        ("open", "confirmed", "dev@example.com", "reproduced", "api"),
    ]
    assert items[0]["at"] >= items[1]["at"]
    outsider = api.as_user(api.user())
    assert outsider.get(f"/api/v1/findings/{first.id}/history").status_code == 404


def test_viewers_read_but_cannot_triage(api: Api) -> None:
    project = api.project()
    finding = api.finding(api.task(project))
    viewer = api.user()
    admin = api.as_user(api.user(admin=True))
    granted = admin.post(f"/api/v1/projects/{project.id}/members",
                         json={"user_id": viewer.id, "role": "viewer"})
    assert granted.status_code == 201 and granted.json()["role"] == "viewer"
    client = api.as_user(viewer)
    assert client.get(f"/api/v1/findings/{finding.id}").status_code == 200
    refused = client.patch(f"/api/v1/findings/{finding.id}", json={"status": "false_positive"})
    assert refused.status_code == 403
    assert client.get(f"/api/v1/findings/{finding.id}").json()["status"] == "open"
    # Granted again as a member, the same user may triage.
    admin.post(f"/api/v1/projects/{project.id}/members",
               json={"user_id": viewer.id, "role": "member"})
    assert client.patch(f"/api/v1/findings/{finding.id}",
                        json={"status": "false_positive"}).status_code == 200
