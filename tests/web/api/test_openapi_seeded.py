"""Every API operation called once on objects that exist, as an admin and as a member, each
answer validated against `/openapi.json` by schemathesis.

The generated cases of `test_openapi.py` almost never name a real object (random task ids
never match), so without this pass the schemas of the success answers (a task, a report in
its four formats, a retry, a login's tokens) would go unchecked. The statuses are asserted
too: a member is refused the administrators' operations and sees another project as absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.store.models import Learning
from bot.web.api import OPERATIONS
from bot.web.api.spec import Operation
from bot.web.auth_tokens import RESET_TTL, issue_one_time_token
from tests.web.api.conftest import PASSWORD, Api, small_zip
from tests.web.api.schema import CHECKS, schema

# What only an administrator may do on a project a member was granted.
ADMIN_ON_GRANTED = {("PATCH", "/api/v1/projects/{project_id}"),
                    ("DELETE", "/api/v1/projects/{project_id}")}
# Mutations run after every read; these two last, since they take the world away.
LAST = [("DELETE", "/api/v1/projects/{project_id}/members/{user_id}"),
        ("DELETE", "/api/v1/projects/{project_id}")]


def _path(op: Operation) -> str:
    return op.path.replace(":int", "")


@dataclass
class World:
    """One role's objects: a granted project with a finished review, a running scan and a
    finding; another project the member was not granted; tokens of every kind needed."""

    api: Api
    role: str
    access: str
    refresh: str
    params: dict[str, Any]
    other_project: int
    invitation: str
    reset: str
    login_email: str


def _world(api: Api, role: str) -> World:
    caller = api.user(admin=role == "admin")
    member = api.user()
    spare = api.user()  # the one an admin's PATCH /users/{id} changes
    project = api.project()
    other = api.project()
    for user in (caller, member):
        api.grant(user, project)
    done = api.task(project, kind="review", status="failed", pr_number=4, head_sha="e" * 40,
                    head_ref="feature", base_ref="main",
                    progress={"skipped": [{"path": "dist/x.js", "reason": "generated"}]})
    running = api.task(project, kind="repository", status="running", head_ref="main")
    finding = api.finding(done, quote="eval(x)", rule_id="B307", cwe="CWE-95")
    [learning] = api.add(Learning(project_id=project.id, path_glob="src/**", text="a note",
                                  fingerprint=finding.fingerprint, source="api", actor="a"))
    api.usage(project)
    tokens = api.login(caller.email)

    async def reset_token(session: Any) -> str:
        raw, _ = await issue_one_time_token(session, "reset", ttl=RESET_TTL, user_id=spare.id)
        return raw

    async def invitation(session: Any) -> str:
        raw, _ = await issue_one_time_token(session, "invite", ttl=RESET_TTL,
                                            email=f"invited-{role}@example.com")
        return raw

    return World(
        api=api, role=role, access=tokens["access_token"], refresh=tokens["refresh_token"],
        params={"project_id": project.id, "task_id": done.id, "running_task_id": running.id,
                "finding_id": finding.id, "user_id": member.id if role == "member" else spare.id,
                "learning_id": learning.id},
        other_project=other.id, invitation=api.run(invitation), reset=api.run(reset_token),
        login_email=caller.email,
    )


def _request(world: World, op: Operation) -> dict[str, Any]:
    """Path parameters, query and body that make ``op`` succeed for an administrator."""
    path = _path(op)
    params = {name: world.params[name] for name in ("project_id", "task_id", "finding_id",
                                                     "user_id", "learning_id")
              if "{" + name + "}" in path}
    if path.endswith("/cancel"):
        params["task_id"] = world.params["running_task_id"]
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/v1/auth/login"): {"email": world.login_email, "password": PASSWORD},
        ("POST", "/api/v1/auth/refresh"): {"refresh_token": world.refresh},
        ("POST", "/api/v1/auth/logout"): {"refresh_token": world.refresh},
        ("POST", "/api/v1/auth/register"): {"email": f"invited-{world.role}@example.com",
                                            "password": "long enough pw",
                                            "invitation": world.invitation},
        ("POST", "/api/v1/auth/password-reset"): {"email": world.login_email},
        ("POST", "/api/v1/auth/password-reset/confirm"): {"token": world.reset,
                                                          "password": "another long pw"},
        ("POST", "/api/v1/invitations"): {"email": "someone@example.com"},
        ("PATCH", "/api/v1/users/{user_id}"): {"display_name": "Renamed"},
        ("POST", "/api/v1/projects"): {"kind": "archive", "full_name": "uploads"},
        ("PATCH", "/api/v1/projects/{project_id}"): {"budget_monthly_usd": 5.0},
        ("POST", "/api/v1/projects/{project_id}/members"): {"user_id": world.params["user_id"]},
        ("POST", "/api/v1/projects/{project_id}/scans"): {"ref": "main"},
        ("PATCH", "/api/v1/findings/{finding_id}"): {"status": "false_positive",
                                                     "reason": "a constant"},
    }
    request: dict[str, Any] = {"path_parameters": params}
    if (op.method, path) in bodies:
        request["body"] = bodies[(op.method, path)]
        request["media_type"] = "application/json"
    elif op.request_content is not None:
        request["body"] = small_zip()
        request["media_type"] = "application/zip"
    return request


def _ordered() -> list[Operation]:
    def rank(op: Operation) -> tuple[int, int]:
        key = (op.method, _path(op))
        if key in LAST:
            return (2, LAST.index(key))
        # Logout revokes the refresh token that /auth/refresh spends: refresh runs first.
        return (0 if op.method == "GET" else 1, 1 if key[1] == "/api/v1/auth/logout" else 0)

    return sorted(OPERATIONS, key=rank)


def _expected(world: World, op: Operation) -> int:
    success = op.status if op.response is not None else 204
    if world.role == "member" and (op.admin or (op.method, _path(op)) in ADMIN_ON_GRANTED):
        return 403
    return success


def _call(world: World, op: Operation, **request: Any) -> httpx.Response:
    case = schema[_path(op)][op.method].Case(**request)
    response = case.call_and_validate(base_url=world.api.base, checks=CHECKS,
                                      headers={"Authorization": f"Bearer {world.access}"})
    return response  # type: ignore[no-any-return]


@pytest.fixture(params=["admin", "member"])
def world(request: pytest.FixtureRequest, api: Api) -> World:
    return _world(api, request.param)


def test_every_operation_on_real_objects_matches_its_schema(world: World) -> None:
    answered: dict[str, int] = {}
    for op in _ordered():
        request = _request(world, op)
        queries = [{"format": f} for f in ("json", "markdown", "sarif", "html")] \
            if _path(op).endswith("/report") else [None]
        for query in queries:
            response = _call(world, op, query=query, **request)
            label = f"{op.method} {_path(op)} {query or ''}"
            answered[label] = response.status_code
            assert response.status_code == _expected(world, op), (label, response.text)
    assert len(answered) == len(OPERATIONS) + 3  # the report in four formats


def test_member_meets_another_project_as_absent(api: Api) -> None:
    world = _world(api, "member")
    for op in _ordered():
        if "{project_id}" not in _path(op) or op.admin:
            continue
        request = _request(world, op)
        request["path_parameters"]["project_id"] = world.other_project
        response = _call(world, op, **request)
        assert response.status_code == 404, (op.method, op.path, response.text)
