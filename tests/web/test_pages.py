"""The report page over real HTTP: the signed link, expiry leading to the login page, the
session cookie; the account pages' forms; and the standalone HTML report (what the API's
``?format=html`` and ``auditbot review --format html`` write) opened in headless Chromium
(Debian's package, run as a subprocess): findings in the rendered DOM, the chart drawn, a
screenshot kept."""

from __future__ import annotations

import struct
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from bot.signing import issue_report_token
from tests.web.api.conftest import PASSWORD, Api
from tests.web.browser import Browser
from tests.web.conftest import ARTIFACTS

CRITICAL_RGB = (0x7F, 0x1D, 0x1D)  # the chart's critical bar colour
HIGH_RGB = (0xB9, 0x1C, 0x1C)


@pytest.fixture
def report_task(api: Api) -> dict[str, Any]:
    project = api.project("acme/shop")
    task = api.task(project, head_sha="9" * 40, pr_number=5, conclusion="failure",
                    model="openai/gpt-4o", cost_usd=0.02,
                    progress={"skipped": [{"path": "dist/app.min.js", "reason": "generated"}]})
    api.finding(task, severity="critical", title="Command built from input",
                path="app/run.py", quote="os.system(cmd)", start_line=3, end_line=3)
    api.finding(task, severity="critical", title="Second critical", path="app/run.py",
                start_line=9, end_line=9)
    api.finding(task, severity="high", title="Token in URL", path="app/api.py")
    api.finding(task, severity="low", title="Dismissed style nit", path="app/api.py",
                status="false_positive")
    return {"project": project, "task": task}


def test_signed_link_opens_that_report_only(api: Api, report_task: dict[str, Any]) -> None:
    task = report_task["task"]
    token = issue_report_token(api.settings, task.id)
    page = httpx.get(f"{api.base}/reports/{task.id}", params={"token": token})
    assert page.status_code == 200
    assert "Command built from input" in page.text
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    other = api.task(report_task["project"])
    wrong = httpx.get(f"{api.base}/reports/{other.id}", params={"token": token})
    assert wrong.status_code == 303
    assert wrong.headers["location"].startswith(f"/login?next=/reports/{other.id}")


def test_expired_link_leads_to_the_login_page(api: Api, report_task: dict[str, Any]) -> None:
    task = report_task["task"]
    assert api.settings.jwt_secret is not None
    now = int(time.time())
    expired = jwt.encode({"iss": "auditbot", "aud": "report", "sub": task.id, "jti": "j",
                          "iat": now - 91 * 86400, "exp": now - 86400},
                         api.settings.jwt_secret.get_secret_value(), algorithm="HS256")
    answer = httpx.get(f"{api.base}/reports/{task.id}", params={"token": expired},
                       follow_redirects=True)
    assert answer.status_code == 200
    assert answer.url.path == "/login"
    assert "This report link has expired" in answer.text
    assert f'name="next" value="/reports/{task.id}"' in answer.text
    # Logging in on that page leads back to the report.
    admin = api.user(admin=True)
    browser = Browser(api)
    browser.client.cookies.update(answer.cookies)
    login = browser.submit("/login", {"email": admin.email, "password": PASSWORD,
                                      "next": f"/reports/{task.id}"}, page=answer.text)
    assert (login.status_code, login.headers["location"]) == (303, f"/reports/{task.id}")
    report = browser.get(login.headers["location"])
    assert "Command built from input" in report.text


def test_login_cookie_opens_granted_reports_only(api: Api, report_task: dict[str, Any]) -> None:
    task = report_task["task"]
    member = api.user()
    browser = Browser(api)
    first = browser.get(f"/reports/{task.id}")
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login")
    login = browser.login(member.email, next_path=f"/reports/{task.id}")
    assert login.status_code == 303
    assert login.headers["location"] == f"/reports/{task.id}"
    assert "httponly" in login.headers["set-cookie"].lower()
    assert browser.get(f"/reports/{task.id}").status_code == 404  # not granted
    api.grant(member, report_task["project"])
    assert browser.get(f"/reports/{task.id}").status_code == 200


def test_login_page_refuses_open_redirects(api: Api) -> None:
    user = api.user()
    answer = Browser(api).login(user.email, next_path="//evil.example.com/")
    assert answer.headers["location"] == "/"
    browser = Browser(api)
    form = browser.get("/login")
    bad = browser.submit("/login", {"email": user.email, "password": "wrong one"},
                         page=form.text)
    assert bad.status_code == 401
    assert "Wrong e-mail or password" in bad.text


def test_forms_from_another_site_are_refused(api: Api) -> None:
    """Login CSRF: a form on another site must not log the visitor into its account."""
    user = api.user()
    form = {"email": user.email, "password": PASSWORD}
    browser = Browser(api)
    page = browser.get("/login").text
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        answer = browser.submit("/login", form, page=page, headers=headers)
        assert answer.status_code == 403, headers
        assert "set-cookie" not in answer.headers
    own = browser.submit("/login", form, page=page,
                         headers={"Origin": api.base, "Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 303 and "set-cookie" in own.headers
    reset_page = browser.get("/reset-password").text
    reset = browser.submit("/reset-password", {"token": "x", "password": "p" * 12},
                           page=reset_page, headers={"Origin": "https://evil.example"})
    assert reset.status_code == 403


# Headless Chromium ---------------------------------------------------------------------


def _run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=90, check=False,
    )


def _png_pixels(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes) without Pillow."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = colour = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6) and body[12] == 0
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    channels = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for row in range(height):
        filter_type = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if filter_type == 1:
                line[i] = (line[i] + a) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + b) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif filter_type == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        pixels.extend(tuple(line[i:i + 3]) for i in range(0, stride, channels))  # type: ignore[misc]
        previous = line
    return width, height, pixels


@pytest.mark.slow
# The limit covers the test body only: the first run on a fresh machine installs Chromium in
# the session fixture, bounded by apt-get's own timeouts (about 45 s measured, more on a slow
# mirror), and that must not be cut off as if the page had hung.
@pytest.mark.timeout(240, func_only=True)
def test_standalone_report_in_headless_chromium(api: Api, report_task: dict[str, Any],
                                                chromium: str, tmp_path: Path) -> None:
    task = report_task["task"]
    answer = api.as_user(api.user(admin=True)).get(f"/api/v1/tasks/{task.id}/report",
                                                   params={"format": "html"})
    assert answer.status_code == 200
    assert "script-src" not in answer.headers["content-security-policy"]  # none at all
    page = tmp_path / "report.html"
    page.write_text(answer.text)
    url = page.as_uri()
    dom = _run_chromium(chromium, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert html.count('<article class="finding') == 4
    for title in ("Command built from input", "Second critical", "Token in URL"):
        assert title in html
    assert "os.system(cmd)" in html
    assert '<svg id="severity-chart"' in html
    assert 'data-severity="critical" data-count="2"' in html

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-standalone.png"
    shot.unlink(missing_ok=True)
    taken = _run_chromium(chromium, tmp_path / "profile-shot", f"--screenshot={shot}",
                          "--window-size=1200,900", "--hide-scrollbars", url)
    assert taken.returncode == 0, taken.stderr[-2000:]
    width, height, pixels = _png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 900)
    colours = set(pixels)
    # The chart is drawn: the critical and high bars' colours are on screen.
    assert CRITICAL_RGB in colours
    assert HIGH_RGB in colours
    critical_pixels = sum(1 for p in pixels if p == CRITICAL_RGB)
    assert critical_pixels > 500  # a bar, not a stray badge pixel


def test_invitation_link_opens_the_register_page(api: Api) -> None:
    admin = api.as_user(api.user(admin=True))
    invite = admin.post("/api/v1/invitations", json={"email": "new@example.com"}).json()
    link = invite["url"].replace(api.settings.public_url, api.base)
    browser = Browser(api)
    page = browser.get(link.removeprefix(api.base))
    assert page.status_code == 200
    assert f'value="{invite["token"]}"' in page.text
    wrong = browser.submit("/register", {"email": "eve@example.com",
                                         "password": "long enough pw",
                                         "invitation": invite["token"]}, page=page.text)
    assert wrong.status_code == 403
    assert "The invitation is for another address." in wrong.text
    made = browser.submit("/register", {"email": "new@example.com",
                                        "password": "long enough pw",
                                        "invitation": invite["token"]}, page=page.text)
    assert made.status_code == 303
    assert made.headers["location"] == "/login?reason=registered"
    assert api.login("new@example.com", "long enough pw")["access_token"]
