"""A project's members: granted by an admin, listed a page at a time with the total, revoked."""

from __future__ import annotations

from tests.web.api.conftest import Api


def test_members_are_granted_paginated_and_revoked(api: Api) -> None:
    project = api.project("team/members")
    users = [api.user() for _ in range(3)]
    admin = api.as_user(api.user(admin=True))
    url = f"/api/v1/projects/{project.id}/members"
    for user in users:
        granted = admin.post(url, json={"user_id": user.id})
        assert granted.status_code == 201, granted.text
        assert (granted.json()["user_id"], granted.json()["email"]) == (user.id, user.email)
    # Granting again is no error and makes no second grant.
    assert admin.post(url, json={"user_id": users[0].id}).status_code == 201
    first = admin.get(url, params={"limit": 2}).json()
    second = admin.get(url, params={"limit": 2, "offset": 2}).json()
    assert (first["total"], len(first["items"]), len(second["items"])) == (3, 2, 1)
    listed = [m["user_id"] for m in first["items"] + second["items"]]
    assert listed == sorted(u.id for u in users)
    assert admin.post(url, json={"user_id": 999999}).status_code == 404

    # A member sees the project, and the project is gone for them once revoked.
    member = api.as_user(users[1])
    assert member.get(url).json()["total"] == 3
    assert admin.delete(f"{url}/{users[1].id}").status_code == 204
    assert member.get(url).status_code == 404
    assert admin.get(url).json()["total"] == 2
