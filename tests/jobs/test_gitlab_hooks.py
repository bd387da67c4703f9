"""A GitLab webhook that GitLab disabled after failures is reported: the worker's log,
`/readyz` (named, still 200) and `/metrics`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.jobs.contracts import Repository
from bot.jobs.deps import task_for_job
from bot.jobs.gitlab_hooks import check_gitlab_hooks
from bot.web.main import build_app
from tests.fakes.fake_gitlab import FakeGitLab
from tests.jobs.conftest import job_deps
from tests.support.servers import serve_in_thread

PUBLIC = "https://audit.example.com"


async def test_a_disabled_gitlab_hook_is_named_in_readyz_metrics_and_the_log(
    make_settings: Callable[..., Settings], redis_url: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeGitLab()
    for number, path in ((1, "group/app"), (2, "group/ok")):
        fake.add_project(number, path)
        fake.members[(number, "auditbot")] = 40  # Maintainers may read a project's hooks
    fake.add_hook(1, f"{PUBLIC}/webhooks/gitlab", alert_status="temporarily_disabled",
                  disabled_until="2026-12-03T10:00:00.000Z")
    fake.add_hook(2, f"{PUBLIC}/webhooks/gitlab")
    with serve_in_thread(fake.app) as url:
        settings = make_settings(GITLAB_URL=url, GITLAB_TOKEN=fake.token,
                                 GITLAB_WEBHOOK_SECRET="s", PUBLIC_URL=PUBLIC,
                                 REDIS_URL=redis_url, DATA_DIR=str(tmp_path / "data"))
        async with job_deps(settings, redis_url) as deps:
            for number, path in ((1, "group/app"), (2, "group/ok")):
                repo = Repository(forge="gitlab", id=number, full_name=path,
                                  default_branch="main")
                await task_for_job(deps, repo, f"r:{number}", kind="review", pr_number=1,
                                   head_sha="a" * 40)
            assert await check_gitlab_hooks(deps) == 1
    assert "GitLab webhook of group/app: GitLab temporarily disabled the webhook" in caplog.text
    with serve_in_thread(build_app(settings)) as base:
        ready = httpx.get(f"{base}/readyz", timeout=10)
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
    assert ready.status_code == 200
    assert ready.json()["gitlab_hooks"] == (
        "disabled: group/app (GitLab temporarily disabled the webhook until "
        "2026-12-03T10:00:00.000Z)")
    assert "auditbot_gitlab_hooks_disabled 1.0" in metrics
