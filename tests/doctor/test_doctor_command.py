"""`auditbot doctor` as an operator runs it: a subprocess with an explicit environment, once
on a working installation (exit 0, warnings allowed) and once with everything wrong (exit 1,
one explained line per failure, no traceback, no secret)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bot.setup.manifest import load_manifest
from bot.store.migrate import upgrade
from tests.conftest import POSTGRES_ADMIN_URL
from tests.fakes.fake_github import FakeGitHub
from tests.fakes.fake_gitlab import FakeGitLab
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.forges.conftest import _app_keys
from tests.support.processes import base_env
from tests.support.servers import free_port, serve_in_thread

pytestmark = pytest.mark.slow
PUBLIC_URL = "https://audit.example.org"
JWT = "doctor-jwt-secret-" + "x" * 32


def doctor(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "doctor", *args],
                          env=base_env(env), cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def statuses(output: str) -> list[str]:
    return [line.split(" ", 1)[0] for line in output.splitlines() if not line.startswith(" ")]


def test_a_working_installation(tmp_path: Path, sqlite_url: str, redis_url: str) -> None:
    upgrade(sqlite_url)
    private, public = _app_keys()
    key = tmp_path / "app.pem"
    key.write_text(private)
    github = FakeGitHub(app_id=616_161, public_key_pem=public)
    manifest = load_manifest()
    github.app_permissions = dict(manifest["default_permissions"])
    github.app_events = list(manifest["default_events"])
    github.app_hook_url = f"{PUBLIC_URL}/webhooks/github"
    gitlab = FakeGitLab()
    gitlab.add_project(1, "acme/api")
    gitlab.members[(1, "auditbot")] = 40
    gitlab.add_hook(1, f"{PUBLIC_URL}/webhooks/gitlab")
    llm = FakeOpenAI(OpenAIExpect(path="/v1/chat/completions", key="sk-doctor-15a",
                                  model="gpt-test", max_tokens_field="max_completion_tokens"),
                     extra_fields=frozenset({"prompt_cache_key"}))
    llm.replies.append("OK")
    with serve_in_thread(github.app) as gh, serve_in_thread(gitlab.app) as gl, \
            serve_in_thread(llm.app) as ai:
        result = doctor({
            "DATABASE_URL": sqlite_url, "REDIS_URL": redis_url, "JWT_SECRET": JWT,
            "PUBLIC_URL": PUBLIC_URL, "APP_ID": "616161", "PRIVATE_KEY_PATH": str(key),
            "WEBHOOK_SECRET": "hook-secret-15a", "GITHUB_API_URL": gh, "APP_SLUG": "auditbot",
            "GITLAB_URL": gl, "GITLAB_TOKEN": gitlab.token, "GITLAB_WEBHOOK_SECRET": "gl-15a",
            "LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk-doctor-15a", "LLM_MODEL": "gpt-test",
            "LLM_BASE_URL": f"{ai}/v1",
        }, tmp_path, "--llm")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    out = result.stdout
    # The test Redis keeps nothing on disk: the one warning, with its hint.
    assert statuses(out).count("warn") == 1, out
    assert "warn  redis: no persistence" in out
    assert "-> set `appendonly yes` (see the README's production section)" in out
    for expected in ("ok    database: SQLite answers; schema at ",
                     "ok    github: App auditbot (id 616161)",
                     "ok    gitlab: GITLAB_TOKEN is auditbot's",
                     "ok    model: openai gpt-test answered in "):
        assert expected in out
    assert len(llm.requests) == 1


@pytest.mark.postgres
def test_everything_wrong(tmp_path: Path) -> None:
    private, public = _app_keys()
    key = tmp_path / "app.pem"
    key.write_text(private)
    github = FakeGitHub(app_id=1, public_key_pem=public)  # not our APP_ID
    gitlab = FakeGitLab()
    missing = f"auditbot_missing_{uuid.uuid4().hex[:8]}"
    redis_port = free_port()
    with serve_in_thread(github.app) as gh, serve_in_thread(gitlab.app) as gl:
        result = doctor({
            "DATABASE_URL": f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{missing}",
            "REDIS_URL": f"redis://:redis-pass-15a@127.0.0.1:{redis_port}/0",
            "APP_ID": "616162", "PRIVATE_KEY_PATH": str(key),
            "WEBHOOK_SECRET": "hook-secret-15a", "GITHUB_API_URL": gh,
            "GITLAB_URL": gl, "GITLAB_TOKEN": "glpat-wrong-15a",
            "GITLAB_WEBHOOK_SECRET": "gl-15a",
        }, tmp_path)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "Traceback" not in out + result.stderr
    assert statuses(out) == ["ok", "fail", "warn", "ok", "fail", "fail", "fail", "fail", "skip"]
    assert f"fail  database: DATABASE_URL: database '{missing}' does not exist" in out
    assert f"fail  redis: REDIS_URL: cannot connect to Redis at 127.0.0.1:{redis_port}" in out
    assert "fail  github: GitHub refused APP_ID 616162 with this key" in out
    assert "fail  gitlab: GitLab refused GITLAB_TOKEN (401)" in out
    assert "skip  model: not called (pass --llm for one tiny call)" in out
    for secret in ("redis-pass-15a", "glpat-wrong-15a", private.splitlines()[1]):
        assert secret not in out + result.stderr


def test_settings_that_do_not_load(tmp_path: Path) -> None:
    result = doctor({"APP_ID": "5"}, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "fail  settings: PRIVATE_KEY: APP_ID is set but neither PRIVATE_KEY nor "
        "PRIVATE_KEY_PATH is (download the app's private key from its GitHub settings page)",
        "        -> fix it in the environment or .env; nothing else was checked",
    ]
