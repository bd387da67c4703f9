"""A member reads and changes only granted projects; another project's objects answer 404
exactly like objects that do not exist, so their existence does not leak."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.api.conftest import Api


@pytest.fixture
def world(db_api: Api) -> dict[str, Any]:
    api = db_api
    admin = api.user(admin=True)
    member = api.user()
    mine = api.project("team/mine")
    theirs = api.project("other/secret")
    api.grant(member, mine)
    my_task = api.task(mine, head_sha="a" * 40, pr_number=1)
    their_task = api.task(theirs, head_sha="b" * 40, pr_number=2)
    orphan_task = api.task(None, kind="local")
    return {
        "admin": api.as_user(admin), "member": api.as_user(member),
        "mine": mine, "theirs": theirs, "my_task": my_task, "their_task": their_task,
        "orphan_task": orphan_task,
        "my_finding": api.finding(my_task), "their_finding": api.finding(their_task),
    }


def _same_as_missing(client: Any, method: str, present: str, missing: str, **kw: Any) -> None:
    a = client.request(method, present, **kw)
    b = client.request(method, missing, **kw)
    assert a.status_code == b.status_code == 404, (present, a.status_code, a.text)
    assert a.json()["title"] == b.json()["title"]
    assert "secret" not in a.text


def test_lists_show_only_granted_projects(world: dict[str, Any]) -> None:
    member, admin = world["member"], world["admin"]
    projects = member.get("/api/v1/projects").json()
    assert [p["full_name"] for p in projects["items"]] == ["team/mine"]
    assert projects["total"] == 1
    assert admin.get("/api/v1/projects").json()["total"] == 2
    tasks = member.get("/api/v1/tasks").json()
    assert {t["id"] for t in tasks["items"]} == {world["my_task"].id}
    assert admin.get("/api/v1/tasks").json()["total"] == 3
    findings = member.get("/api/v1/findings").json()
    assert [f["id"] for f in findings["items"]] == [world["my_finding"].id]
    # Filtering by the other project's id gives nothing, not an error.
    filtered = member.get("/api/v1/findings", params={"project_id": world["theirs"].id})
    assert filtered.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    assert member.get("/api/v1/auth/me").json()["project_ids"] == [world["mine"].id]


def test_other_projects_objects_look_absent(world: dict[str, Any]) -> None:
    member = world["member"]
    theirs, task, finding = world["theirs"], world["their_task"], world["their_finding"]
    _same_as_missing(member, "GET", f"/api/v1/projects/{theirs.id}", "/api/v1/projects/999999")
    _same_as_missing(member, "PATCH", f"/api/v1/projects/{theirs.id}", "/api/v1/projects/999999",
                     json={"enabled": False})
    _same_as_missing(member, "DELETE", f"/api/v1/projects/{theirs.id}", "/api/v1/projects/999999")
    _same_as_missing(member, "GET", f"/api/v1/projects/{theirs.id}/stats",
                     "/api/v1/projects/999999/stats")
    _same_as_missing(member, "GET", f"/api/v1/projects/{theirs.id}/members",
                     "/api/v1/projects/999999/members")
    _same_as_missing(member, "POST", f"/api/v1/projects/{theirs.id}/scans",
                     "/api/v1/projects/999999/scans", json={})
    _same_as_missing(member, "GET", f"/api/v1/tasks/{task.id}", "/api/v1/tasks/nope")
    _same_as_missing(member, "GET", f"/api/v1/tasks/{world['orphan_task'].id}",
                     "/api/v1/tasks/nope")
    _same_as_missing(member, "POST", f"/api/v1/tasks/{task.id}/cancel", "/api/v1/tasks/nope/cancel")
    _same_as_missing(member, "POST", f"/api/v1/tasks/{task.id}/retry", "/api/v1/tasks/nope/retry")
    for fmt in ("json", "sarif", "markdown", "html"):
        _same_as_missing(member, "GET", f"/api/v1/tasks/{task.id}/report",
                         "/api/v1/tasks/nope/report", params={"format": fmt})
    _same_as_missing(member, "GET", f"/api/v1/findings/{finding.id}", "/api/v1/findings/999999")
    _same_as_missing(member, "PATCH", f"/api/v1/findings/{finding.id}", "/api/v1/findings/999999",
                     json={"status": "false_positive", "reason": "mine now"})


def test_nothing_was_changed_by_the_refused_calls(world: dict[str, Any]) -> None:
    member, admin = world["member"], world["admin"]
    member.patch(f"/api/v1/findings/{world['their_finding'].id}", json={"status": "wont_fix"})
    member.delete(f"/api/v1/projects/{world['theirs'].id}")
    assert admin.get(f"/api/v1/findings/{world['their_finding'].id}").json()["status"] == "open"
    assert admin.get(f"/api/v1/projects/{world['theirs'].id}").status_code == 200


def test_member_cannot_change_settings_of_a_granted_project(world: dict[str, Any]) -> None:
    member, admin = world["member"], world["admin"]
    mine = world["mine"]
    assert member.patch(f"/api/v1/projects/{mine.id}",
                        json={"budget_monthly_usd": 1000}).status_code == 403
    changed = admin.patch(f"/api/v1/projects/{mine.id}",
                          json={"budget_monthly_usd": 12.5, "settings": {"x": 1}})
    assert changed.status_code == 200
    assert changed.json()["budget_monthly_usd"] == 12.5
    assert changed.json()["settings"] == {"x": 1}


def test_stats_and_usage_cover_only_granted_projects(db_api: Api,
                                                     world: dict[str, Any]) -> None:
    api = db_api
    api.usage(world["mine"], cost_usd=0.5)
    api.usage(world["theirs"], cost_usd=7.0)
    stats = world["member"].get("/api/v1/stats").json()
    assert stats["findings"]["total"] == 1
    assert stats["llm"]["totals"]["cost_usd"] == 0.5
    usage = world["member"].get("/api/v1/usage").json()
    assert [line["name"] for line in usage["projects"]] == ["team/mine"]
    assert usage["installations"] == []
    assert usage["total_cost_usd"] == 0.5
