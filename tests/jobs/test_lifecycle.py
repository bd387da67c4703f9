"""One job lifecycle: every audit, review or scan, ends the same way and says the same
things, and only ``bot/jobs/lifecycle.py`` concludes check runs and ends tasks."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.jobs.contracts import ScanRepository
from bot.jobs.deps import JobDeps, JobTiming, task_for_job
from bot.jobs.review import review_pull_request
from bot.jobs.scans import scan_push, scan_repository
from bot.llm.service import build_llm_service
from bot.store import audits
from tests.fakes.fake_github import FakeGitHub
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.jobs.conftest import ctx_of
from tests.jobs.test_review_job import REPO, payload
from tests.jobs.test_review_job import prepare as prepare_review
from tests.jobs.test_scans import AFTER, push_payload
from tests.jobs.test_scans import prepare as prepare_push
from tests.support.servers import serve_in_thread

BOT = Path(__file__).resolve().parents[2] / "bot"


async def test_a_scan_of_a_truncated_tree_says_so_on_its_check_run(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    prepare_push(fake_github)
    fake_github.repos["octo/demo"].trees[AFTER]["zz_last.py"] = b"print('not listed')\n"
    fake_github.tree_limit = 1  # GitHub lists one entry and says "truncated"
    project_id, task_id, _ = await task_for_job(deps, REPO, "api-scan", kind="repository")
    job = ScanRepository(task_id=task_id, project_id=project_id, ref=AFTER).model_dump()
    assert await scan_repository(ctx_of(deps, "scan_repository:t"), job) == "succeeded"
    [run] = fake_github.check_runs.values()
    assert "GitHub listed only part of the tree" in run["output"]["summary"]
    assert "the scan covers the 1 files listed" in run["output"]["summary"]


Job = Callable[[dict[str, Any], dict[str, Any]], Awaitable[str]]


@pytest.mark.parametrize(
    ("job", "job_payload", "prepare", "noun"),
    [
        (review_pull_request, payload, prepare_review, "Audit"),
        (scan_push, push_payload, prepare_push, "Scan"),
    ],
    ids=["review", "push-scan"],
)
async def test_the_time_limit_is_the_same_for_every_audit(
    deps: JobDeps,
    fake_github: FakeGitHub,
    job: Job,
    job_payload: Callable[[], dict[str, Any]],
    prepare: Callable[[FakeGitHub], None],
    noun: str,
) -> None:
    """Reviews and scans stop at JOB_TIMEOUT_S less one margin, and say so the same way."""
    prepare(fake_github)
    timing = JobTiming(margin_s=59.5, min_s=0.1)  # JOB_TIMEOUT_S is 60: 0.5 s to analyse
    llm = FakeOpenAI(OpenAIExpect(path="/v1/chat/completions", key="k-123456", model="m"),
                     findings=[], slow_s=3.0)
    llm.script.set(["slow"] * 10)
    with serve_in_thread(llm.app) as base:
        settings = deps.settings.model_copy(update={
            "llm_provider": "openai_compatible", "llm_base_url": f"{base}/v1", "llm_model": "m",
            "llm_api_key": SecretStr("k-123456"), "llm_timeout_s": 60.0,
            "llm_context_window": 32768, "llm_price_input": 1.0, "llm_price_output": 1.0,
        })
        service = build_llm_service(settings, None)
        slow = dataclasses.replace(deps, llm=service, timing=timing)
        try:
            result = await job(ctx_of(slow, f"{noun}:slow"), job_payload())
        finally:
            await service.aclose()
    assert result == "failed"
    [run] = fake_github.check_runs.values()
    assert run["conclusion"] == "timed_out"
    assert run["output"]["title"] == f"{noun} stopped: the {noun.lower()} took longer than 0.5 s"
    task = await audits.find_task_by_job(deps.sessions, f"{noun}:slow")
    assert task is not None and (task.status, task.conclusion) == ("failed", "timed_out")


def _calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            found.append((name, node))
    return found


def _concludes(call: ast.Call) -> bool:
    """A CheckUpdate(status="completed", ...): the conclusion of a check run."""
    return any(
        k.arg == "status" and isinstance(k.value, ast.Constant) and k.value.value == "completed"
        for k in call.keywords
    )


FINAL = {"succeeded", "failed", "cancelled", "superseded"}


def _ends_a_row(node: ast.AST) -> bool:
    """``task.status = "cancelled"`` or ``task.finished_at = ...``: a row ended by hand."""
    if not isinstance(node, ast.Assign | ast.AnnAssign):
        return False
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    for target in targets:
        if isinstance(target, ast.Attribute) and target.attr == "finished_at":
            return True
        if (
            isinstance(target, ast.Attribute)
            and target.attr == "status"
            and isinstance(node.value, ast.Constant)
            and node.value.value in FINAL
        ):
            return True
    return False


def lifecycle_breaches(root: Path) -> list[str]:
    """Places outside the lifecycle (and the store's own definition) that end a task, open
    or conclude a check run: every part of ``bot/`` (jobs, web, events, the CLI...) but the
    forge adapters, which implement the calls."""
    found: list[tuple[str, int, str]] = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "lifecycle.py" and path.parent.name == "jobs":
            continue
        if "forges" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        for name, call in _calls(tree):
            where = f"{path.relative_to(root.parent)}:{call.lineno}"
            if name in {"finish_task", "create_check"} or (
                name == "CheckUpdate" and _concludes(call)
            ):
                found.append((str(path), call.lineno, f"{where} {name}"))
        for node in ast.walk(tree):
            if _ends_a_row(node):
                where = f"{path.relative_to(root.parent)}:{node.lineno}"
                found.append((str(path), node.lineno, f"{where} ends a task row"))
    return [text for _, _, text in sorted(found)]


def test_only_the_lifecycle_concludes_checks_and_ends_tasks() -> None:
    assert lifecycle_breaches(BOT) == []


def test_the_rule_catches_a_breach(tmp_path: Path) -> None:
    """The rule itself fails on a module that concludes a check on its own."""
    fake = tmp_path / "bot" / "jobs"
    fake.mkdir(parents=True)
    (fake / "rogue.py").write_text(
        "async def f(forge, sessions):\n"
        "    await forge.update_check('1', CheckUpdate(status='completed'))\n"
        "    await audits.finish_task(sessions, 't', status='failed')\n"
    )
    assert lifecycle_breaches(tmp_path / "bot") == [
        "bot/jobs/rogue.py:2 CheckUpdate",
        "bot/jobs/rogue.py:3 finish_task",
    ]


def test_the_rule_catches_a_row_ended_by_hand_in_the_web_process(tmp_path: Path) -> None:
    """What the API's cancel did before it went through the lifecycle."""
    fake = tmp_path / "bot" / "web" / "api"
    fake.mkdir(parents=True)
    (fake / "rogue.py").write_text(
        "async def cancel(task, session):\n"
        "    task.status = 'cancelled'\n"
        "    task.finished_at = datetime.now(UTC)\n"
        "    task.status = 'running'\n"  # not an ending
    )
    assert lifecycle_breaches(tmp_path / "bot") == [
        "bot/web/api/rogue.py:2 ends a task row",
        "bot/web/api/rogue.py:3 ends a task row",
    ]
