"""The dashboard and project pages over real HTTP: what each shows to whom, pagination that
reaches every row, settings and members changed by administrators only, errors as pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from tests.web.api.conftest import Api, start_api
from tests.web.browser import Browser


@pytest.fixture
def api(make_settings: Callable[..., Settings], redis_url: str) -> Iterator[Api]:
    yield from start_api(make_settings(REDIS_URL=redis_url, BUDGET_PROJECT_MONTHLY_USD="10",
                                       LLM_ALLOWED_MODELS="openai/gpt-4o,deepseek/deepseek-chat"))


def test_login_leads_to_the_dashboard_with_what_the_user_may_see(api: Api) -> None:
    mine = api.project("acme/mine")
    hidden = api.project("acme/hidden")
    today = datetime.now(UTC)
    api.task(mine, status="succeeded", pr_number=4, counts={"critical": 2, "high": 1},
             created_at=today)
    api.task(mine, status="running", head_ref="main", created_at=today - timedelta(days=2),
             counts={"low": 3})
    api.task(hidden, status="failed", pr_number=9, counts={"critical": 50})
    api.usage(mine, cost_usd=2.5)
    api.usage(hidden, cost_usd=7.0)
    member = api.user()
    api.grant(member, mine)
    # An administrator looks first: the chart kept for everything must not reach the member.
    admin = Browser(api)
    admin.login(api.user(admin=True).email)
    assert 'data-severity="critical" data-count="52"' in admin.get("/").text
    browser = Browser(api)
    assert browser.get("/").status_code == 303  # not logged in: the login page
    answer = browser.login(member.email)
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    page = browser.get("/")
    assert page.status_code == 200
    html = page.text
    assert "acme/mine" in html and "acme/hidden" not in html
    assert "pr #9" not in html.lower()
    # Spend against budget: this project's spend, its budget (the server default of 10).
    assert "$2.50" in html and "of $10.00 budgeted" in html
    assert 'id="spend-meter"' in html
    # The chart: today's stacked bars count 2 critical and 1 high; the hidden project's 50
    # critical are not there.
    day = today.strftime("%Y-%m-%d")
    assert f'data-day="{day}" data-severity="critical" data-count="2"' in html
    assert 'data-count="50"' not in html
    assert "critical: 2" in html and "low: 3" in html
    # The running task is followed live; the finished one is not.
    assert html.count("data-live-task=") == 1
    assert '<script src="/static/live.js" defer></script>' in html
    # Navigation and logout on the page.
    assert 'id="nav-dashboard"' in html and 'id="logout"' in html


def test_dashboard_lists_page_through_every_task(api: Api) -> None:
    project = api.project("acme/busy")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made = [api.task(project, pr_number=n, created_at=start + timedelta(minutes=n))
            for n in range(1, 61)]
    admin = api.user(admin=True)
    browser = Browser(api)
    browser.login(admin.email)
    seen: list[str] = []
    path: str | None = "/"
    pages = 0
    while path is not None:
        page = browser.get(path)
        assert page.status_code == 200
        seen += re.findall(r'id="task-([0-9a-f]{32})"', page.text)
        following = re.search(r'<nav class="pager" aria-label="Audit pages">.*?'
                              r'<a href="([^"]+)" rel="next"', page.text, re.S)
        path = "/" + following.group(1).replace("&amp;", "&") if following else None
        pages += 1
    assert pages == 3
    assert seen == [t.id for t in reversed(made)]  # newest first, each once


def test_project_page_filters_findings_and_pages_by_key(api: Api) -> None:
    project = api.project("acme/app")
    task = api.task(project, head_sha="a" * 40)
    for n in range(30):
        api.finding(task, severity="high", path=f"src/f{n}.py", title=f"High {n}")
    api.finding(task, severity="critical", category="bug", path="lib/core.py", title="Crit")
    api.finding(task, severity="low", path="src/dismissed.py", title="Gone",
                status="false_positive")
    admin = api.user(admin=True)
    browser = Browser(api)
    browser.login(admin.email)
    base = f"/projects/{project.id}"
    first = browser.get(base).text
    assert first.count('<tr id="row-') == 25
    assert "Gone" not in first  # the default shows open and confirmed findings
    nxt = re.search(r'<a href="([^"]+)" rel="next">', first.split('id="findings"')[1])
    assert nxt
    second = browser.get(base + nxt.group(1).replace("&amp;", "&").split("#")[0]).text
    assert second.count('<tr id="row-') == 6
    assert "Crit" not in second or "Crit" not in first
    only = browser.get(base, params={"severity": "critical"}).text
    assert only.count('<tr id="row-') == 1 and "Crit" in only
    assert browser.get(base, params={"category": "bug"}).text.count('<tr id="row-') == 1
    assert browser.get(base, params={"path": "lib/"}).text.count('<tr id="row-') == 1
    assert browser.get(base, params={"path": "src/f1.py"}).text.count('<tr id="row-') == 1
    dismissed = browser.get(base, params={"state": "false_positive"}).text
    assert dismissed.count('<tr id="row-') == 1 and "Gone" in dismissed
    # A value no list offers is dropped, not an error.
    assert browser.get(base, params={"severity": "<b>", "state": "x"}).status_code == 200


def test_settings_and_members_are_for_administrators(api: Api) -> None:
    project = api.project("acme/app")
    admin = api.user(admin=True)
    member = api.user("dev@example.com")
    api.grant(member, project)
    newcomer = api.user("new@example.com")
    browser = Browser(api)
    browser.login(admin.email)
    page = browser.get(f"/projects/{project.id}")
    assert 'value="deepseek/deepseek-chat" checked' in page.text  # the server's, by default
    saved = browser.submit(f"/projects/{project.id}/settings",
                           {"budget_monthly_usd": "25", "budget_per_task_usd": "",
                            "enabled": "0", "model-2": "deepseek/deepseek-chat",
                            "model-3": "made-up/model"})
    assert saved.status_code == 303
    page = browser.get(saved.headers["location"])
    assert "Settings saved." in page.text and 'value="25.0"' in page.text
    body = api.as_user(admin).get(f"/api/v1/projects/{project.id}").json()
    assert (body["enabled"], body["budget_monthly_usd"]) == (False, 25.0)
    assert body["settings"]["allowed_models"] == ["deepseek/deepseek-chat"]
    assert 'value="openai/gpt-4o">' in page.text  # unchecked now
    granted = browser.submit(f"/projects/{project.id}/members",
                             {"email": newcomer.email, "role": "viewer"})
    assert granted.status_code == 303
    page = browser.get(granted.headers["location"])
    assert "new@example.com</td><td>viewer" in page.text
    unknown = browser.submit(f"/projects/{project.id}/members",
                             {"email": "nobody@example.com", "role": "member"})
    assert "There is no account" in browser.get(unknown.headers["location"]).text
    removed = browser.submit(f"/projects/{project.id}/members/{newcomer.id}/remove", {})
    assert removed.status_code == 303
    assert "new@example.com" not in browser.get(removed.headers["location"]).text

    other = Browser(api)
    other.login(member.email)
    page = other.get(f"/projects/{project.id}")
    assert page.status_code == 200
    assert 'id="save-settings"' not in page.text and "$25.00" in page.text
    refused = other.submit(f"/projects/{project.id}/settings",
                           {"budget_monthly_usd": "0", "enabled": "0"}, page=page.text)
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]


def test_errors_are_pages_for_browsers_and_json_for_the_api(api: Api) -> None:
    member = api.user()
    browser = Browser(api)
    browser.login(member.email)
    secret = api.project("acme/secret")
    missing = browser.get(f"/projects/{secret.id}")  # not granted: looks absent
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert 'id="logout"' in missing.text and "There is no such page" in missing.text
    nowhere = browser.get("/no/such/page")
    assert nowhere.status_code == 404 and "<h1>Not Found</h1>" in nowhere.text
    api_answer = browser.get("/api/v1/projects/12345")
    assert api_answer.headers["content-type"] == "application/problem+json"
