"""Doctor's GitHub, GitLab and model lines against the fake GitHub, GitLab and OpenAI
servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.config import Settings
from bot.doctor.github import github_lines
from bot.doctor.gitlab import gitlab_lines
from bot.doctor.model import model_lines
from bot.doctor.report import Line
from bot.setup.manifest import load_manifest
from tests.fakes.fake_github import FakeGitHub
from tests.fakes.fake_gitlab import FakeGitLab
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.forges.conftest import _app_keys
from tests.support.servers import serve_in_thread

SettingsFactory = Callable[..., Settings]
# githubkit caches an App JWT per issuer in the process: ids of their own for these tests.
APP_ID = 515_151
PUBLIC_URL = "https://audit.example.org"
HOOK = f"{PUBLIC_URL}/webhooks/gitlab"


def said(lines: list[Line]) -> list[tuple[str, str]]:
    return [(line.status.value, line.text) for line in lines]


@pytest.fixture
def github(tmp_path: Path, make_settings: SettingsFactory) -> Iterator[tuple[FakeGitHub, Settings]]:
    private, public = _app_keys()
    fake = FakeGitHub(app_id=APP_ID, public_key_pem=public)
    manifest = load_manifest()
    fake.app_permissions = dict(manifest["default_permissions"])
    fake.app_events = list(manifest["default_events"])
    fake.app_hook_url = f"{PUBLIC_URL}/webhooks/github"
    key = tmp_path / "app.pem"
    key.write_text(private)
    with serve_in_thread(fake.app) as base:
        yield fake, make_settings(APP_ID=str(APP_ID), PRIVATE_KEY_PATH=str(key),
                                  WEBHOOK_SECRET="hook-secret-15a", GITHUB_API_URL=base,
                                  APP_SLUG="auditbot", PUBLIC_URL=PUBLIC_URL)


def test_a_healthy_github_app(github: tuple[FakeGitHub, Settings]) -> None:
    fake, settings = github
    fake.installations_count = 3
    fake.add_delivery(status_code=202)
    lines = asyncio.run(github_lines(settings))
    assert said(lines) == [
        ("ok", f"App auditbot (id {APP_ID}) on {settings.github_api_url}: the key and APP_ID "
               "match"),
        ("ok", "installed on 3 account(s)"),
        ("ok", "the app has the permissions and events auditbot uses"),
        ("ok", f"the app's webhook URL is {PUBLIC_URL}/webhooks/github"),
        ("ok", "1 webhook deliveries in the last 24 h, every event delivered"),
    ]


def test_what_is_wrong_with_a_github_app(github: tuple[FakeGitHub, Settings],
                                         make_settings: SettingsFactory) -> None:
    fake, settings = github
    fake.installations_count = 0
    fake.app_permissions = {"pull_requests": "read", "checks": "write", "contents": "read",
                            "issues": "write", "metadata": "read"}
    fake.app_events = ["pull_request", "push"]
    fake.app_hook_url = "https://old-host.example.org/webhooks/github"
    fake.app_hook_insecure_ssl = "1"
    now = time.time()
    fake.add_delivery(status_code=503, event="push", delivered_at=now - 600)
    redelivered = fake.add_delivery(status_code=503, event="pull_request",
                                    delivered_at=now - 500)
    guid = next(d["guid"] for d in fake.deliveries if d["id"] == redelivered)
    fake.add_delivery(guid=guid, status_code=202, redelivery=True, delivered_at=now - 400)
    fake.add_delivery(status_code=0, event="issue_comment", delivered_at=now - 300)
    fake.add_delivery(status_code=503, event="push", delivered_at=now - 2 * 86400)  # too old
    settings = settings.model_copy(update={"app_slug": "audit-bot"})
    lines = asyncio.run(github_lines(settings))
    assert said(lines)[1:] == [
        ("warn", "the app is not installed anywhere yet"),
        ("warn", "APP_SLUG is 'audit-bot' but the app's slug is 'auditbot': "
                 "`@auditbot review` comments would be ignored"),
        ("warn", "the app lacks permissions pull_requests: write and events check_run, "
                 "check_suite, issue_comment, pull_request_review_comment"),
        ("warn", "the app's webhook URL is https://old-host.example.org/webhooks/github, not "
                 f"{PUBLIC_URL}/webhooks/github"),
        ("warn", "GitHub does not verify the TLS certificate of the webhook's host (SSL "
                 "verification is off)"),
        ("warn", "2 of 3 events in the last 24 h never reached auditbot (1 x 503, "
                 "1 x no answer; latest issue_comment at "
                 f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(now - 300))} UTC)"),
    ]
    assert lines[1].hint == "install it: https://github.com/apps/auditbot/installations/new"
    assert lines[-1].hint is not None and lines[-1].hint.startswith("auditbot could not queue")


def test_a_key_that_is_not_the_apps(tmp_path: Path, make_settings: SettingsFactory) -> None:
    _, public = _app_keys()
    other = tmp_path / "other.pem"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048)
                      .private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    fake = FakeGitHub(app_id=APP_ID + 1, public_key_pem=public)
    with serve_in_thread(fake.app) as base:
        settings = make_settings(APP_ID=str(APP_ID + 1), PRIVATE_KEY_PATH=str(other),
                                 WEBHOOK_SECRET="hook-secret-15a", GITHUB_API_URL=base)
        lines = asyncio.run(github_lines(settings))
    assert said(lines) == [("fail", f"GitHub refused APP_ID {APP_ID + 1} with this key: GitHub "
                                    "answered 401 while reading the app (check APP_ID and "
                                    "the private key)")]


def test_a_file_that_is_no_key(tmp_path: Path, make_settings: SettingsFactory) -> None:
    key = tmp_path / "app.pem"
    key.write_text("not a key\n")
    settings = make_settings(APP_ID="9", PRIVATE_KEY_PATH=str(key), WEBHOOK_SECRET="x" * 8)
    [line] = asyncio.run(github_lines(settings))
    assert line.status.value == "fail"
    assert line.text.startswith("the private key cannot sign the App JWT")


@pytest.fixture
def gitlab(make_settings: SettingsFactory) -> Iterator[tuple[FakeGitLab, Settings]]:
    fake = FakeGitLab()
    with serve_in_thread(fake.app) as base:
        yield fake, make_settings(GITLAB_URL=base, GITLAB_TOKEN=fake.token,
                                  GITLAB_WEBHOOK_SECRET="gl-secret-15a", PUBLIC_URL=PUBLIC_URL)


def test_a_healthy_gitlab_token(gitlab: tuple[FakeGitLab, Settings]) -> None:
    fake, settings = gitlab
    for pid, path in ((1, "acme/api"), (2, "acme/web")):
        fake.add_project(pid, path)
        fake.members[(pid, "auditbot")] = 40
        fake.add_hook(pid, HOOK)
    lines = asyncio.run(gitlab_lines(settings))
    assert said(lines) == [
        ("ok", f"GITLAB_TOKEN is auditbot's on {settings.gitlab_url}"),
        ("ok", "Developer or more in 2 project(s)"),
        ("ok", f"webhooks to {HOOK} are enabled in 2 project(s)"),
    ]


def test_what_is_wrong_with_gitlab(gitlab: tuple[FakeGitLab, Settings]) -> None:
    fake, settings = gitlab
    fake.token_scopes = ["read_api"]
    fake.token_expires_at = "2026-12-10"
    roles = {1: 20, 2: 30, 3: 40, 4: 40, 5: 40}
    for pid, level in roles.items():
        fake.add_project(pid, f"acme/p{pid}")
        fake.members[(pid, "auditbot")] = level
    fake.add_project(6, "other/not-a-member")
    fake.add_hook(3, "https://elsewhere.example.org/hook")
    fake.add_hook(4, HOOK, alert_status="temporarily_disabled",
                  disabled_until="2026-12-03T12:00:00.000Z")
    fake.add_hook(5, HOOK, note_events=False)
    lines = asyncio.run(gitlab_lines(settings, today=date(2026, 12, 3)))
    assert said(lines)[1:] == [
        ("fail", "the token's scopes are read_api: auditbot needs api (comments, discussions, "
                 "commit statuses)"),
        ("warn", "the token expires on 2026-12-10"),
        ("warn", "only Reporter in acme/p1: auditbot can comment but not set the commit status "
                 "that blocks a merge"),
        ("warn", f"no webhook to {HOOK} in acme/p3"),
        ("fail", "GitLab temporarily disabled the webhook of acme/p4 until "
                 "2026-12-03T12:00:00.000Z after failed deliveries"),
        ("warn", "the webhook of acme/p5 leaves out comment events"),
        ("skip", "cannot read the webhooks of acme/p1, acme/p2 (that needs Maintainer): check "
                 "them in each project's Settings > Webhooks"),
    ]


def test_a_token_gitlab_refuses(gitlab: tuple[FakeGitLab, Settings]) -> None:
    fake, settings = gitlab
    fake.token = "glpat-another"
    assert said(asyncio.run(gitlab_lines(settings))) == [
        ("fail", "GitLab refused GITLAB_TOKEN (401) (the token is wrong, revoked or expired: "
                 "make a new one)")]


def test_an_old_gitlab_and_no_projects(gitlab: tuple[FakeGitLab, Settings]) -> None:
    fake, settings = gitlab
    fake.token_scopes = None  # GET /personal_access_tokens/self is 404 before 15.5
    assert said(asyncio.run(gitlab_lines(settings)))[1:] == [
        ("warn", "the token's user is a member of no project")]


@pytest.fixture
def openai(make_settings: SettingsFactory) -> Iterator[tuple[FakeOpenAI, Settings]]:
    fake = FakeOpenAI(OpenAIExpect(path="/v1/chat/completions", key="sk-doctor-15a",
                                   model="gpt-test", max_tokens_field="max_completion_tokens"),
                     extra_fields=frozenset({"prompt_cache_key"}))
    with serve_in_thread(fake.app) as base:
        yield fake, make_settings(LLM_PROVIDER="openai", OPENAI_API_KEY="sk-doctor-15a",
                                  LLM_MODEL="gpt-test", LLM_BASE_URL=f"{base}/v1")


def test_the_model_answers_one_tiny_call(openai: tuple[FakeOpenAI, Settings]) -> None:
    fake, settings = openai
    fake.replies.append("OK")
    [line] = asyncio.run(model_lines(settings))
    assert line.status.value == "ok"
    assert line.text.startswith("openai gpt-test answered in ")
    [request] = fake.requests
    assert request["max_completion_tokens"] == 16


@pytest.mark.parametrize(
    ("change", "says"),
    [({"openai_api_key": "sk-wrong-15a"}, "openai refused a call to gpt-test: "
                                          "HTTP 401: Incorrect API key provided"),
     ({"llm_model": "gpt-nope"}, "openai refused a call to gpt-nope: HTTP 404: The model "
                                 "`gpt-nope` does not exist")],
    ids=["wrong-key", "unknown-model"],
)
def test_the_model_refuses(change: dict[str, str], says: str,
                           openai: tuple[FakeOpenAI, Settings]) -> None:
    from pydantic import SecretStr

    _, settings = openai
    update = {k: SecretStr(v) if k.endswith("_key") else v for k, v in change.items()}
    [line] = asyncio.run(model_lines(settings.model_copy(update=update)))
    assert (line.status.value, line.text) == ("fail", says)


def test_a_model_that_is_down(openai: tuple[FakeOpenAI, Settings]) -> None:
    fake, settings = openai
    fake.script.set(["503"])
    [line] = asyncio.run(model_lines(settings))
    assert line.status.value == "fail"
    assert line.text.startswith("openai did not answer a call to gpt-test: ")
