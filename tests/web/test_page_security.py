"""Security of the pages: a strict CSP with no inline script or style, CSRF tokens on every
form and refused without, repository and model text always escaped, session cookies
Secure/HttpOnly/SameSite, logout ending the session."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import httpx
import pytest

from bot.config import Settings
from bot.signing import issue_report_token
from tests.web.api.conftest import Api, start_api
from tests.web.browser import Browser

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.styles = 0
        self.handlers: list[str] = []
        self.post_forms = 0
        self.csrf_fields = 0
        self._in_post_form = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self._in_script = "src" not in named
        if tag == "style" or "style" in named:
            self.styles += 1
        self.handlers += [k for k in named if k.startswith("on")]
        if tag == "form" and (named.get("method") or "").lower() == "post":
            self.post_forms += 1
            self._in_post_form = True
        if tag == "input" and self._in_post_form and named.get("name") == "csrf" \
                and named.get("value"):
            self.csrf_fields += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_post_form = False
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


def _hostile_world(api: Api) -> tuple[Browser, list[str]]:
    project = api.project(f"acme/{HOSTILE}")
    task = api.task(project, head_sha="ab" * 20, pr_number=3, head_ref=HOSTILE,
                    model=HOSTILE, partial_reason=HOSTILE, status="running")
    api.finding(task, title=HOSTILE, message=HOSTILE, quote=HOSTILE, suggestion=HOSTILE,
                path=f"src/{HOSTILE}.py", rule_id=HOSTILE, source=HOSTILE, cwe="CWE-79")
    admin = api.user(admin=True)
    api.grant(api.user(HOSTILE.replace("<", "").replace(">", "")[:30] + "@example.com"),
              project)
    browser = Browser(api)
    browser.login(admin.email)
    return browser, ["/", f"/projects/{project.id}", f"/reports/{task.id}"]


def test_text_from_repositories_and_models_is_escaped(api: Api) -> None:
    browser, paths = _hostile_world(api)
    for path in paths:
        page = browser.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text, path
        assert "<img src=x" not in page.text, path
        assert "&lt;script&gt;alert(" in page.text, path
        scan = _Scan()
        scan.feed(page.text)
        assert scan.inline_scripts == 0 and scan.handlers == [], path


def test_every_page_has_a_strict_csp_and_no_inline_script_or_style(api: Api) -> None:
    browser, paths = _hostile_world(api)
    anonymous = httpx.Client(base_url=api.base)
    api.clients.append(anonymous)
    for path in [*paths, "/login", "/register", "/reset-password", "/no/such/page"]:
        page = browser.get(path) if path not in ("/login",) else anonymous.get(path)
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp, path
        assert page.headers["x-content-type-options"] == "nosniff"
        scan = _Scan()
        scan.feed(page.text)
        assert (scan.inline_scripts, scan.styles) == (0, 0), path
        # Every form that changes something carries a CSRF token.
        assert scan.post_forms == scan.csrf_fields, path
        assert scan.post_forms >= 1, path  # at least the logout (or login) form


def test_forms_without_the_right_csrf_token_are_refused(api: Api) -> None:
    project = api.project("acme/app")
    task = api.task(project)
    finding = api.finding(task)
    admin = api.user(admin=True)
    browser = Browser(api)
    browser.login(admin.email)
    browser.get(f"/reports/{task.id}")
    target = f"/findings/{finding.id}/triage"
    for data in ({"state": "wont_fix"}, {"state": "wont_fix", "csrf": "forged"}):
        answer = browser.client.post(target, data=data)
        assert answer.status_code == 403, data
    # Another session's token is no good either.
    other = Browser(api)
    other.login(api.user(admin=True).email)
    stolen = other.get(f"/reports/{task.id}").text
    assert browser.submit(target, {"state": "wont_fix"}, page=stolen).status_code == 403
    # A form posted from another site is refused even with the token.
    assert browser.submit(target, {"state": "wont_fix"},
                          headers={"Origin": "https://evil.example"}).status_code == 403
    assert api.as_user(admin).get(f"/api/v1/findings/{finding.id}").json()["status"] == "open"
    # The login form needs its token too (login CSRF).
    fresh = httpx.post(f"{api.base}/login", data={"email": admin.email,
                                                  "password": "correct horse battery"})
    assert fresh.status_code == 403 and "set-cookie" not in fresh.headers


@pytest.mark.parametrize(("public_url", "secure"), [("https://audit.example.com", True),
                                                    ("http://localhost:3000", False)])
def test_session_cookie_flags(make_settings: Callable[..., Settings], redis_url: str,
                              public_url: str, secure: bool) -> None:
    for api in start_api(make_settings(REDIS_URL=redis_url, PUBLIC_URL=public_url)):
        user = api.user()
        form = httpx.get(f"{api.base}/login")
        csrf_cookie = form.headers["set-cookie"]
        assert "httponly" in csrf_cookie.lower() and "samesite=strict" in csrf_cookie.lower()
        assert ("secure" in csrf_cookie.lower()) is secure
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        # A Secure cookie would not go back over this test's plain http: sent by hand.
        answer = httpx.post(f"{api.base}/login",
                            headers={"Cookie": f"auditbot_csrf={form.cookies['auditbot_csrf']}"},
                            data={"csrf": token, "email": user.email,
                                  "password": "correct horse battery"})
        assert answer.status_code == 303
        session = next(c for c in answer.headers.get_list("set-cookie")
                       if c.startswith("auditbot_session="))
        flags = {part.strip().lower() for part in session.split(";")[1:]}
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
        assert ("secure" in flags) is secure


def test_logout_ends_the_session(api: Api) -> None:
    user = api.user()
    browser = Browser(api)
    browser.login(user.email)
    page = browser.get("/")
    assert page.status_code == 200
    cookie = browser.client.cookies.get("auditbot_session")
    out = browser.submit("/logout", {})
    assert (out.status_code, out.headers["location"]) == (303, "/login?reason=logged-out")
    replay = httpx.get(f"{api.base}/", cookies={"auditbot_session": cookie or ""})
    assert replay.status_code == 303  # the old cookie is dead, not just deleted


def test_signed_link_does_not_open_other_pages(api: Api) -> None:
    project = api.project("acme/app")
    task = api.task(project)
    token = issue_report_token(api.settings, task.id)
    assert httpx.get(f"{api.base}/projects/{project.id}",
                     params={"token": token}).status_code == 303
