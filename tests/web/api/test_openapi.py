"""`/openapi.json` describes every API route, and schemathesis, logged in as an admin and as
a member, finds no 5xx and no answer outside the documented statuses, media types and schemas."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from starlette.routing import Route

from bot.web.api import api_routes, openapi_document
from tests.web.api.conftest import Api
from tests.web.api.schema import CHECKS, schema


@pytest.fixture
def seeded(api: Api) -> dict[str, Any]:
    admin = api.user("admin@example.com", admin=True)
    member = api.user("member@example.com")
    mine = api.project("team/mine")
    api.project("other/theirs", kind="archive")
    api.grant(member, mine)
    task = api.task(mine, head_sha="d" * 40, pr_number=3, progress={
        "skipped": [{"path": "vendor/x.js", "reason": "vendored"}]})
    api.finding(task, quote="eval(x)", suggestion="ast.literal_eval(x)", cwe="CWE-95")
    api.usage(mine)
    return {"api": api, "tokens": {
        "admin": api.login(admin.email)["access_token"],
        "member": api.login(member.email)["access_token"],
    }}




@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: Any, seeded: dict[str, Any]) -> None:
    for role in ("admin", "member"):
        case.call_and_validate(base_url=seeded["api"].base, checks=CHECKS,
                               headers={"Authorization": f"Bearer {seeded['tokens'][role]}"})


def test_every_api_route_is_documented(api: Api) -> None:
    document = httpx.get(f"{api.base}/openapi.json").json()
    assert document == openapi_document()
    assert document["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, ops in document["paths"].items()
                  for method in ops}
    for route in api_routes():
        assert isinstance(route, Route)
        if route.path == "/openapi.json":
            continue
        path = route.path.replace(":int", "")
        for method in route.methods or ():
            if method != "HEAD":
                assert (method, path) in documented
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (method, path)
            if method in ("post", "patch") and "requestBody" in op:
                assert op["requestBody"]["content"], (method, path)
    assert "Problem" in document["components"]["schemas"]
