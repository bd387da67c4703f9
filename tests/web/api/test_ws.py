"""Live progress at /ws/tasks/{id}: authenticated like the API, other projects' tasks look
absent, and events published on Redis channel `auditbot:task:{id}` reach the client."""

from __future__ import annotations

import json
import threading
import time

import pytest
import redis
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect

from tests.web.api.conftest import Api


def _ws(api: Api, task_id: str, token: str | None) -> str:
    url = api.base.replace("http://", "ws://") + f"/ws/tasks/{task_id}"
    return f"{url}?access_token={token}" if token else url


def test_progress_events_are_relayed_until_the_task_finishes(api: Api) -> None:
    project = api.project()
    member = api.user()
    api.grant(member, project)
    task = api.task(project, status="running", progress={"stage": "fetch"})
    token = api.login(member.email)["access_token"]
    publisher = redis.Redis.from_url(api.settings.redis_url)
    events = [
        {"type": "progress", "stage": "analyse", "done": 3, "total": 10},
        {"type": "progress", "stage": "publish", "done": 10, "total": 10},
        {"type": "finished", "status": "succeeded"},
    ]
    try:
        with connect(_ws(api, task.id, token), open_timeout=10) as ws:
            snapshot = json.loads(ws.recv(timeout=10))
            assert snapshot == {"type": "snapshot", "task_id": task.id, "status": "running",
                                "progress": {"stage": "fetch"}, "last": None}

            def publish() -> None:
                for event in events:
                    time.sleep(0.05)
                    publisher.publish(f"auditbot:task:{task.id}", json.dumps(event))

            sender = threading.Thread(target=publish)
            sender.start()
            received = [json.loads(ws.recv(timeout=10)) for _ in events]
            sender.join()
            assert received == events
            # A finished event ends the stream: the server closes.
            with pytest.raises(ConnectionClosedOK):
                ws.recv(timeout=10)
    finally:
        publisher.close()


def test_finished_task_sends_its_snapshot_and_closes(api: Api) -> None:
    task = api.task(api.project(), status="succeeded")
    token = api.login(api.user(admin=True).email)["access_token"]
    with connect(_ws(api, task.id, token), open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["status"] == "succeeded"
        with pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=10)


def test_refused_without_a_token_or_for_another_project(api: Api) -> None:
    theirs = api.task(api.project(), status="running")
    member = api.user()
    api.grant(member, api.project())
    token = api.login(member.email)["access_token"]
    for url in (_ws(api, theirs.id, None), _ws(api, theirs.id, "bad.token.here"),
                _ws(api, theirs.id, token), _ws(api, "no-such-task", token)):
        with pytest.raises(InvalidStatus) as refused, connect(url, open_timeout=10):
            pass
        assert refused.value.response.status_code == 403


def test_late_client_gets_the_last_event_and_hears_the_end_from_the_database(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import update

    from bot.store.models import AuditTask
    from bot.web import ws as ws_module

    monkeypatch.setattr(ws_module, "STATUS_POLL_S", 0.2)
    task = api.task(api.project(), status="running")
    token = api.login(api.user(admin=True).email)["access_token"]
    store = redis.Redis.from_url(api.settings.redis_url)
    try:
        store.set(f"auditbot:task:{task.id}:last", json.dumps({"stage": "llm", "chunks_done": 2}))
    finally:
        store.close()
    with connect(_ws(api, task.id, token), open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["last"] == {"stage": "llm", "chunks_done": 2}

        async def finish(session: object) -> None:
            await session.execute(  # type: ignore[attr-defined]
                update(AuditTask).where(AuditTask.id == task.id).values(status="failed"))

        api.run(finish)
        assert json.loads(ws.recv(timeout=10)) == {"type": "finished", "status": "failed"}
        with pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=10)


def test_the_pages_session_cookie_opens_the_socket_from_this_site_only(api: Api) -> None:
    from tests.web.browser import Browser

    project = api.project()
    task = api.task(project, status="succeeded")
    member = api.user()
    api.grant(member, project)
    browser = Browser(api)
    browser.login(member.email)
    cookie = f"auditbot_session={browser.client.cookies['auditbot_session']}"
    url = _ws(api, task.id, None)
    with connect(url, open_timeout=10,
                 additional_headers={"Cookie": cookie, "Origin": api.base}) as ws:
        assert json.loads(ws.recv(timeout=10))["status"] == "succeeded"
    # Another site's page (or a client that names no origin) gets nothing with the cookie:
    # a WebSocket is not bound by CORS.
    for headers in ({"Cookie": cookie, "Origin": "https://evil.example"}, {"Cookie": cookie}):
        with pytest.raises(InvalidStatus) as refused, \
                connect(url, open_timeout=10, additional_headers=headers):
            pass
        assert refused.value.response.status_code == 403
