"""`auditbot setup` end to end: the command runs as a subprocess, the test is the browser, and
a fake GitHub on 127.0.0.1 takes the manifest (or refuses it, as GitHub does), redirects
back with the code and exchanges it. The `.env` it leaves loads as working settings: the
App JWT made from them is accepted by that GitHub's ``GET /app``."""

from __future__ import annotations

import asyncio
import html
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.config import load_settings
from bot.forges.github.app_hooks import AppHooks
from tests.fakes.fake_github_manifest import FakeGitHubManifestFlow
from tests.support.processes import base_env
from tests.support.servers import free_port, serve_in_thread

pytestmark = pytest.mark.slow

OLD_ENV = """\
# Our settings (kept by auditbot setup)
DATABASE_URL=sqlite+aiosqlite:///./audit.db
APP_ID=111
export LOG_LEVEL=debug
PRIVATE_KEY='-----BEGIN RSA PRIVATE KEY-----\\nold\\n-----END RSA PRIVATE KEY-----'

# GitLab
GITLAB_URL=https://gitlab.example.org"""  # no newline at the end


@dataclass
class Setup:
    process: subprocess.Popen[str]
    url: str  # the page's base, which is also PUBLIC_URL
    cwd: Path

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return self.process.returncode, out, err


@pytest.fixture
def github() -> Iterator[FakeGitHubManifestFlow]:
    fake = FakeGitHubManifestFlow()
    with serve_in_thread(fake.app) as base:
        fake.web_url = base
        yield fake


def start_setup(tmp_path: Path, *args: str) -> Setup:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = base_env({"PUBLIC_URL": url, "DATA_DIR": str(tmp_path / "data")})
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "setup", "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"auditbot setup exited: {process.communicate()}")
        try:
            httpx.get(f"{url}/setup", timeout=1)
            return Setup(process, url, tmp_path)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("auditbot setup did not answer")


def the_form(page: str) -> tuple[str, str]:
    """The form's action and the manifest it posts, as a browser would read them."""
    action = re.search(r'<form action="([^"]+)" method="post">', page)
    manifest = re.search(r'name="manifest" value="([^"]*)"', page)
    assert action and manifest, page
    return html.unescape(action.group(1)), html.unescape(manifest.group(1))


def test_setup_registers_the_app_and_env_works(
    github: FakeGitHubManifestFlow, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(OLD_ENV)
    setup = start_setup(tmp_path, "--github-url", github.web_url, "--org", "acme",
                        "--code-scanning", "--name", "auditbot-acme")
    try:
        with httpx.Client(timeout=30) as browser:
            start = browser.get(f"{setup.url}/", follow_redirects=True)
            assert start.status_code == 200
            assert "form-action" in start.headers["content-security-policy"]
            action, manifest = the_form(start.text)
            assert action.startswith(
                f"{github.web_url}/organizations/acme/settings/apps/new?state=")
            state = action.split("state=", 1)[1]

            # A redirect that did not come from this page's registration is refused, and
            # GitHub is not asked.
            callback = f"{setup.url}/setup/callback"
            for query in ({"code": "abc"}, {"code": "abc", "state": "forged"}):
                refused = browser.get(callback, params=query)
                assert refused.status_code == 400
                assert "state does not match" in refused.text
            assert github.requests == []
            # A code GitHub does not know: GitHub's 404, said on the page.
            unknown = browser.get(callback, params={"code": "nope", "state": state})
            assert unknown.status_code == 400
            assert "does not know this registration code" in unknown.text

            # The browser posts the form to GitHub, which sends it back with the code.
            registered = browser.post(action, data={"manifest": manifest})
            assert registered.status_code == 302, registered.text
            back = registered.headers["location"]
            assert back.startswith(f"{setup.url}/setup/callback?code=")
            done = browser.get(back)
        assert done.status_code == 200, done.text
        code, out, err = setup.finish()
    finally:
        if setup.process.poll() is None:
            setup.process.kill()
    assert code == 0, (out, err)

    app = github.apps[0]
    assert github.refused == []
    assert ("POST", "/organizations/acme/settings/apps/new") in github.requests
    assert ("POST", f"/api/v3/app-manifests/{app.code}/conversions") in github.requests
    assert app.owner == "acme"
    assert app.manifest["hook_attributes"]["url"] == f"{setup.url}/webhooks/github"
    assert app.manifest["redirect_url"] == f"{setup.url}/setup/callback"
    # --code-scanning: the permission and its event, together.
    assert app.manifest["default_permissions"]["security_events"] == "write"
    assert "code_scanning_alert" in app.manifest["default_events"]
    install = f"{github.web_url}/apps/{app.slug}/installations/new"
    assert f'href="{install}"' in done.text
    assert install in out

    # .env: other lines as they were, APP_ID changed where it stood, the old inline key
    # (which would win over PRIVATE_KEY_PATH) gone, the new keys at the end.
    key_path = tmp_path / "data" / f"github-app-{app.id}.pem"
    lines = (tmp_path / ".env").read_text().splitlines()
    assert lines == [
        "# Our settings (kept by auditbot setup)",
        "DATABASE_URL=sqlite+aiosqlite:///./audit.db",
        f"APP_ID={app.id}",
        "export LOG_LEVEL=debug",
        "",
        "# GitLab",
        "GITLAB_URL=https://gitlab.example.org",
        f"PRIVATE_KEY_PATH='{key_path}'",
        f"WEBHOOK_SECRET={app.webhook_secret}",
        f"APP_SLUG='{app.slug}'",
        f"GITHUB_API_URL='{github.web_url}/api/v3'",
    ]
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_text() == app.pem
    # Secrets reach neither the terminal nor a log.
    for secret in (app.webhook_secret, app.pem.splitlines()[1], app.code):
        assert secret not in out + err

    # The settings work: the App JWT signed with the saved key is accepted by GET /app.
    settings = load_settings({}, env_file=tmp_path / ".env")
    assert settings.app_id == app.id
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == app.webhook_secret
    assert asyncio.run(AppHooks.from_settings(settings).slug()) == app.slug


BAD_MANIFEST = """\
name: auditbot
url: https://github.com/apps/auditbot
hook_attributes: {url: https://example.com/webhooks/github}
default_events: [pull_request, installation, status]
default_permissions: {pull_requests: write, metadata: read}
"""


def test_github_refuses_a_manifest_and_nothing_is_written(
    github: FakeGitHubManifestFlow, tmp_path: Path
) -> None:
    (tmp_path / "app.yml").write_text(BAD_MANIFEST)
    setup = start_setup(tmp_path, "--github-url", github.web_url, "--manifest", "app.yml")
    try:
        start = httpx.get(f"{setup.url}/setup", timeout=30)
        action, manifest = the_form(start.text)
        assert action.startswith(f"{github.web_url}/settings/apps/new?state=")
        refused = httpx.post(action, data={"manifest": manifest}, timeout=30)
    finally:
        setup.process.send_signal(signal.SIGINT)  # Ctrl-C
    code, _, err = setup.finish()
    assert refused.status_code == 422
    assert "Invalid GitHub App configuration" in refused.text
    assert github.refused == [[
        "Default events unsupported: installation",
        "Default events are not supported by permissions: installation and status",
    ]]
    assert code == 1
    assert "nothing written" in err
    assert not (tmp_path / ".env").exists()
    assert not (tmp_path / "data").exists()
