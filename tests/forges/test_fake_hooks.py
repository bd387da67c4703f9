"""The fake GitHub's webhook sender, checked over HTTP: failed deliveries listed and really
re-sent on request, as GitHub does, through the product's own client of the App's
endpoints."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.forges.github.app_hooks import AppHooks
from tests.fakes.fake_github import FakeGitHub
from tests.support.processes import wait_for
from tests.support.servers import serve_in_thread

from .conftest import APP_ID

SECRET = "hook-secret"


async def test_failed_deliveries_are_listed_and_resent_on_request(
    fake_github: FakeGitHub, github_url: str, app_keys: tuple[str, str]
) -> None:
    received: list[tuple[str, bool]] = []
    answers = iter([503, 202])

    async def webhook(request: Request) -> Response:
        body = await request.body()
        good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        received.append((request.headers["x-github-delivery"],
                         request.headers["x-hub-signature-256"] == good))
        return Response(status_code=next(answers))

    app = Starlette(routes=[Route("/webhooks/github", webhook, methods=["POST"])])
    with serve_in_thread(app) as url:
        hook = fake_github.send_hooks_to(f"{url}/webhooks/github", SECRET)
        assert hook.send("pull_request", {"action": "opened"}, "guid-1") == 503
        client = AppHooks(app_id=APP_ID, private_key=app_keys[0], api_url=github_url,
                          timeout_s=10)
        listed = await client.deliveries(datetime.now(UTC) - timedelta(minutes=5))
        assert [(d.guid, d.failed, d.event) for d in listed] == [
            ("guid-1", True, "pull_request")]

        await client.redeliver(listed[0].id)  # GitHub accepts, then delivers
        wait_for(lambda: len(hook.attempts) == 2, timeout=10, what="the redelivery")
    assert received == [("guid-1", True), ("guid-1", True)]
    newest = fake_github.deliveries[0]
    assert (newest["guid"], newest["redelivery"], newest["status_code"]) == ("guid-1", True, 202)
    assert newest["action"] == "opened"
