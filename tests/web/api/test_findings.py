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
    # Ignored silences too; re-opened, no longer silent.
    client.patch(f"/api/v1/findings/{unrelated.id}", json={"status": "ignored"})
    assert _silenced(api, project.id) == {"fp-1", "fp-2"}
    for finding in (old, unrelated):
        client.patch(f"/api/v1/findings/{finding.id}", json={"status": "open"})
    assert _silenced(api, project.id) == frozenset()


def test_bad_status_is_refused(api: Api) -> None:
    task = api.task(api.project())
    finding = api.finding(task)
    client = api.as_user(api.user(admin=True))
    answer = client.patch(f"/api/v1/findings/{finding.id}", json={"status": "wontfix"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["status"]
