"""A person's way through the pages in headless Chromium (Debian's package, driven by
Playwright): log in, the dashboard with live progress, a project, a report, a finding's
link to its lines on GitHub (the URL checked; github.com itself is answered by a stand-in),
marking it a false positive with a note, logging out. Screenshots of the dashboard and the
report at 1280 and 390 px wide are kept in test-artifacts/, and at 390 px no page is wider
than the screen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from tests.web.api.conftest import PASSWORD, Api
from tests.web.conftest import ARTIFACTS

HEAD = "c0ffee" + "0" * 34


@pytest.fixture
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    project = api.project("acme/shop")
    task = api.task(project, pr_number=5, head_sha=HEAD, base_sha="b" * 40,
                    conclusion="failure", model="openai/gpt-4o", cost_usd=0.02,
                    counts={"critical": 1, "high": 1})
    shell = api.finding(task, severity="critical", title="Command built from input",
                        path="app/run.py", start_line=3, end_line=4,
                        quote="os.system('ping ' + host)", rule_id="py.shell-injection",
                        source="static:rules")
    api.finding(task, severity="high", title="Token in URL", path="app/api.py")
    running = api.task(project, status="running", head_ref="main", kind="repository")
    member = api.user("dev@example.com")
    api.grant(member, project)
    return {"project": project, "task": task, "shell": shell, "running": running,
            "member": member}


def _no_overflow(page: Page, width: int) -> None:
    wide = page.evaluate("Math.max(document.documentElement.scrollWidth,"
                         " document.body.scrollWidth)")
    assert wide <= width, f"{page.url} is {wide}px wide in a {width}px window"


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    target.unlink(missing_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000  # a real picture, not an empty page


def _log_in(page: Page, api: Api, email: str) -> None:
    page.goto(f"{api.base}/")
    expect(page).to_have_url(f"{api.base}/login?next=/&reason=login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{api.base}/")


@pytest.mark.slow
@pytest.mark.timeout(240, func_only=True)
def test_log_in_triage_a_finding_and_log_out(api: Api, world: dict[str, Any],
                                             browser: Browser) -> None:
    task, shell, running = world["task"], world["shell"], world["running"]
    # The worker keeps a running task's last event; the page shows it, then follows.
    channel = f"auditbot:task:{running.id}"
    queue = redis.Redis.from_url(api.settings.redis_url)
    queue.set(f"{channel}:last", json.dumps({"task_id": running.id, "stage": "static",
                                             "findings": 2}))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    forge_visits: list[str] = []

    def github(route: Route) -> None:
        forge_visits.append(route.request.url)
        route.fulfill(status=200, content_type="text/html",
                      body="<!doctype html><title>GitHub</title><h1>GitHub stand-in</h1>")

    context.route("https://github.com/**", github)

    _log_in(page, api, world["member"].email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    live = page.locator(f"#task-{running.id} .progress")
    expect(live).to_have_text("static · 2 findings")
    for _ in range(50):  # publish until the page's socket has subscribed
        if queue.publish(channel, json.dumps({"stage": "llm", "chunks_done": 3,
                                              "chunks_total": 8})):
            break
        page.wait_for_timeout(100)
    expect(live).to_have_text("model 3/8 chunks")
    _no_overflow(page, 1280)
    _shot(page, "dashboard-1280.png")

    page.get_by_role("link", name="acme/shop").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("acme/shop")
    page.get_by_role("link", name="Command built from input").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Report: acme/shop")
    expect(page.locator(f"#finding-{shell.id} pre.code")).to_have_text(
        "os.system('ping ' + host)")
    _shot(page, "report-1280.png")

    expected = f"https://github.com/acme/shop/blob/{HEAD}/app/run.py#L3-L4"
    page.locator(f"#link-{shell.id}").click()
    expect(page).to_have_url(expected)
    assert forge_visits == [expected.split("#")[0]]
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Report: acme/shop")

    page.locator(f"#note-{shell.id}").fill("host comes from our own config")
    page.locator(f"#fp-{shell.id}").click()
    expect(page.locator("#notice")).to_contain_text("Saved")
    expect(page.locator(f"#state-{shell.id}")).to_have_text("False positive")
    page.locator(f"#finding-{shell.id} details summary").click()
    expect(page.locator(f"#finding-{shell.id} .history")).to_contain_text(
        "by dev@example.com (web): host comes from our own config")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{api.base}/login?reason=logged-out")
    page.goto(f"{api.base}/reports/{task.id}")
    expect(page).to_have_url(f"{api.base}/login?next=/reports/{task.id}&reason=login")
    assert problems == []
    context.close()


@pytest.mark.slow
@pytest.mark.timeout(240, func_only=True)
def test_pages_fit_a_phone(api: Api, world: dict[str, Any], browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    page = context.new_page()
    _log_in(page, api, world["member"].email)
    _no_overflow(page, 390)
    _shot(page, "dashboard-390.png")
    page.goto(f"{api.base}/projects/{world['project'].id}")
    _no_overflow(page, 390)
    page.goto(f"{api.base}/reports/{world['task'].id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Report: acme/shop")
    _no_overflow(page, 390)
    _shot(page, "report-390.png")
    page.goto(f"{api.base}/nowhere")
    _no_overflow(page, 390)
    context.close()
