"""Learnings made from dismissals with a reason: visible and deletable through the API and
on the project page, by the people who may triage; a dismissal without a reason, and
auditbot's own feedback wording, teach nothing; notes stay bounded per project."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.findings import FindingStatus
from bot.store.db import create_engine, session_factory
from bot.store.learnings import MAX_PER_PROJECT, TEXT_LIMIT, glob_for, learn
from bot.store.models import FindingRecord, Learning
from tests.web.api.conftest import Api
from tests.web.browser import Browser


def test_a_dismissal_with_a_reason_becomes_a_learning(api: Api) -> None:
    project = api.project()
    task = api.task(project)
    finding = api.finding(task, path="tests/fixtures/keys.py", title="Hard-coded AWS key")
    silent = api.finding(task, fingerprint="fp-silent")
    member = api.user("dev@example.com")
    api.grant(member, project)
    client = api.as_user(member)
    assert client.patch(f"/api/v1/findings/{finding.id}", json={
        "status": "false_positive", "reason": "the keys in   these fixtures\nare fake"}
    ).status_code == 200
    assert client.patch(f"/api/v1/findings/{silent.id}",
                        json={"status": "wont_fix"}).status_code == 200  # no reason
    answer = client.get(f"/api/v1/projects/{project.id}/learnings")
    assert answer.status_code == 200, answer.text
    [note] = answer.json()["items"]
    assert note["path_glob"] == "tests/fixtures/**"
    assert note["text"] == ("Hard-coded AWS key: a false positive, because the keys in these "
                            "fixtures are fake")
    assert (note["actor"], note["source"]) == ("dev@example.com", "api")
    # Strangers see nothing; viewers read but cannot delete; members delete.
    assert api.as_user(api.user()).get(f"/api/v1/projects/{project.id}/learnings"
                                       ).status_code == 404
    viewer = api.user()
    admin = api.as_user(api.user(admin=True))
    admin.post(f"/api/v1/projects/{project.id}/members",
               json={"user_id": viewer.id, "role": "viewer"})
    path = f"/api/v1/projects/{project.id}/learnings/{note['id']}"
    assert api.as_user(viewer).delete(path).status_code == 403
    assert client.delete(path).status_code == 204
    assert client.delete(path).status_code == 404
    assert client.get(f"/api/v1/projects/{project.id}/learnings").json()["items"] == []


def test_the_project_page_lists_and_deletes_learnings(api: Api) -> None:
    project = api.project()
    finding = api.finding(api.task(project), path="setup.py", title="Shell in setup")
    member = api.user("lead@example.com")
    api.grant(member, project)
    api.as_user(member).patch(f"/api/v1/findings/{finding.id}", json={
        "status": "wont_fix", "reason": "setup.py only runs on our build machines"})
    browser = Browser(api)
    browser.login(member.email)
    page = browser.get(f"/projects/{project.id}")
    assert page.status_code == 200
    assert "Shell in setup: won&#39;t fix, because setup.py only runs on our build machines" \
        in page.text
    note_id = api.as_user(member).get(
        f"/api/v1/projects/{project.id}/learnings").json()["items"][0]["id"]
    done = browser.submit(f"/projects/{project.id}/learnings/{note_id}/forget", {},
                          follow_redirects=True)
    assert done.status_code == 200 and "Learning deleted" in done.text
    assert "Nothing learned yet." in done.text


def test_learnings_are_bounded_and_replace_per_finding(api: Api) -> None:
    project = api.project()
    task = api.task(project)
    rows = [api.finding(task, fingerprint=f"fp-{n}", path=f"pkg/m{n}.py")
            for n in range(MAX_PER_PROJECT + 5)]

    async def work() -> tuple[int, list[str], str]:
        engine = create_engine(api.settings.database_url)
        try:
            async with session_factory(engine)() as session, session.begin():
                for row in rows:
                    found = await session.get(FindingRecord, row.id)
                    assert found is not None
                    await learn(session, found, FindingStatus.FALSE_POSITIVE,
                                reason="x" * 1000, actor="a", source="api")
                again = await session.get(FindingRecord, rows[-1].id)
                assert again is not None
                await learn(session, again, FindingStatus.WONT_FIX, reason="accepted",
                            actor="b", source="web")
                assert await learn(session, again, FindingStatus.CONFIRMED, reason="r",
                                   actor="b", source="web") is None
            async with session_factory(engine)() as session:
                count = await session.scalar(select(func.count()).select_from(Learning))
                texts = list(await session.scalars(select(Learning.text).where(
                    Learning.fingerprint == rows[-1].fingerprint)))
                long = await session.scalar(select(Learning.text).where(
                    Learning.fingerprint == rows[-2].fingerprint))
            return int(count or 0), texts, str(long)
        finally:
            await engine.dispose()

    count, texts, long = asyncio.run(work())
    assert count == MAX_PER_PROJECT
    assert len(texts) == 1 and texts[0].endswith("won't fix, because accepted")
    assert len(long) == TEXT_LIMIT and long.endswith("x…")


def test_the_glob_is_the_folder_or_the_root_file() -> None:
    assert glob_for("src/api/db.py") == "src/api/**"
    assert glob_for("setup.py") == "setup.py"
