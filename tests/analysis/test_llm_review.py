"""The model's part of a review against a fake OpenAI-compatible server: a model that
misbehaves never gets anything misplaced, duplicated or unsanitised onto the pull request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.analysis.llm_review import LLMReviewer
from bot.analysis.pipeline import ReviewOutcome, ReviewPipeline, ReviewRequest
from bot.config import Settings
from bot.forges.base import ChangeTarget
from bot.forges.local.git import LocalGitSource
from bot.llm.service import build_llm_service
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.support.gitrepo import commit, make_repo
from tests.support.servers import serve_in_thread

BASE = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.run([cmd])\n"
CHANGE = BASE + "\n\ndef shell(cmd):\n    return subprocess.call(cmd, shell=True)\n"
SHELL_LINE = 9
SHELL_CODE = "return subprocess.call(cmd, shell=True)"
KEY = "sk-test-0123456789abcdef0123456789abcdef"

GOOD = {
    "path": "app.py",
    "start_line": SHELL_LINE,
    "end_line": SHELL_LINE,
    "severity": "high",
    "category": "security",
    "cwe": "CWE-78",
    "title": "Shell injection @octocat",
    "message": "cmd reaches a shell. cc @security-team see [docs](https://evil.test/x) "
    "![p](https://evil.test/p.png) <img src=x onerror=alert(1)> https://evil.test/y",
    "suggestion": "    return subprocess.call([cmd])",
    "quote": SHELL_CODE,
    "confidence": 0.9,
}
MISBEHAVING = [
    GOOD,
    {**GOOD, "title": "Same problem again"},  # a duplicate of the first
    {**GOOD, "start_line": 500, "end_line": 501},  # lines the model was never shown
    {**GOOD, "quote": "eval(request.args['q'])", "title": "Invented eval"},  # quote not in code
    {**GOOD, "path": "other.py", "title": "A file not in the chunk"},
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "r", {"app.py": BASE})
    commit(repo, {"app.py": CHANGE}, "shell")
    return repo


@pytest.fixture
def fake_llm() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI(
        OpenAIExpect(path="/v1/chat/completions", key=KEY, model="review-model"),
        findings=MISBEHAVING,
    )
    with serve_in_thread(fake.app) as base:
        yield fake, base


async def review(settings: Settings, repo: Path) -> ReviewOutcome:
    service = build_llm_service(settings, None)
    assert service is not None
    source = LocalGitSource(repo)
    try:
        reviewer = LLMReviewer(service, concurrency=4)
        return await ReviewPipeline(source, llm=reviewer).run(
            ReviewRequest(target=ChangeTarget(base="HEAD~1", head="HEAD"))
        )
    finally:
        await service.aclose()
        await source.close()


def llm_env(base: str, **extra: str) -> dict[str, Any]:
    return {
        "LLM_PROVIDER": "openai_compatible",
        "LLM_BASE_URL": f"{base}/v1",
        "LLM_MODEL": "review-model",
        "LLM_API_KEY": KEY,
        "LLM_TIMEOUT_S": "2",
        "LLM_MAX_RETRIES": "1",
        "LLM_BACKOFF_BASE_S": "0.01",
        **extra,
    }


async def test_misbehaving_model_is_contained(
    repo: Path,
    fake_llm: tuple[FakeOpenAI, str],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    fake, base = fake_llm
    outcome = await review(make_settings(**llm_env(base)), repo)

    at_shell = [p for p in outcome.placed if p.finding.start_line == SHELL_LINE]
    assert len(at_shell) == 1, [p.finding for p in outcome.placed]  # merged, not duplicated
    finding = at_shell[0].finding
    assert "llm:" in finding.source and "static:" in finding.source
    assert at_shell[0].placement == "inline"
    for text in (finding.title, finding.message):
        assert "@" not in text and "http" not in text and "<img" not in text, text
    assert not [p for p in outcome.placed if p.finding.path == "other.py"]
    assert outcome.llm.dropped == {
        "on lines not shown": 1,
        "whose quote is not in the code": 1,
        "naming a file not shown": 1,
    }
    assert outcome.llm.chunks_sent == 1
    assert outcome.llm.partial_reason is None
    # What left the machine: the system prompt warns, the code is fenced.
    request = fake.requests[0]
    assert "UNTRUSTED DATA" in request["messages"][0]["content"]
    assert "<<<UNTRUSTED CODE BEGINS>>>" in request["messages"][1]["content"]


async def test_secrets_are_masked_before_sending(
    tmp_path: Path, fake_llm: tuple[FakeOpenAI, str], make_settings: Callable[..., Settings]
) -> None:
    fake, base = fake_llm
    secret = "AKIAZ4DEMO7XQ3K9LM2P"
    repo = make_repo(tmp_path / "s", {"app.py": BASE})
    commit(repo, {"app.py": BASE + f'\nAWS_ACCESS_KEY_ID = "{secret}"\n'}, "key")
    outcome = await review(make_settings(**llm_env(base)), repo)
    assert fake.requests
    assert all(secret not in str(r) for r in fake.requests)
    assert any(p.finding.severity.value == "critical" for p in outcome.placed)
    assert all(secret not in p.finding.message + (p.finding.quote or "") for p in outcome.placed)


async def test_non_json_answers_fail_the_chunk_not_the_audit(
    repo: Path, fake_llm: tuple[FakeOpenAI, str], make_settings: Callable[..., Settings]
) -> None:
    fake, base = fake_llm
    fake.script.set(["invalid_json"] * 6)
    outcome = await review(make_settings(**llm_env(base)), repo)
    assert outcome.llm.chunks_sent == 0
    assert len(outcome.llm.failed) == 1
    assert outcome.llm.partial_reason is not None
    assert "provider failed" in outcome.llm.partial_reason
    # Offline findings still count, and one reaches fail_on: the check fails.
    assert any(p.finding.source.startswith("static:") for p in outcome.placed)
    assert outcome.verdict.conclusion == "failure"


async def test_provider_down_leaves_a_neutral_check_without_blocking_findings(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    repo = make_repo(tmp_path / "d", {"notes.py": "x = 1\n"})
    commit(repo, {"notes.py": "x = 2\n"}, "tiny")
    settings = make_settings(**llm_env("http://127.0.0.1:9", LLM_TIMEOUT_S="0.5"))
    outcome = await review(settings, repo)
    assert outcome.placed == []
    assert outcome.verdict.conclusion == "neutral"
    assert "provider failed" in outcome.verdict.title


async def test_budget_spent_stops_the_model_part(
    repo: Path, fake_llm: tuple[FakeOpenAI, str], make_settings: Callable[..., Settings]
) -> None:
    fake, base = fake_llm
    settings = make_settings(**llm_env(base, BUDGET_PER_TASK_USD="0.001"))
    service = build_llm_service(settings, None)
    assert service is not None
    source = LocalGitSource(repo)
    try:
        outcome = await ReviewPipeline(source, llm=LLMReviewer(service, task_id="t-budget")).run(
            ReviewRequest(target=ChangeTarget(base="HEAD~1", head="HEAD"))
        )
    finally:
        await service.aclose()
        await source.close()
    assert fake.requests == []
    assert outcome.llm.partial_reason is not None
    assert "budget" in outcome.llm.partial_reason
    assert any(p.finding.source.startswith("static:") for p in outcome.placed)


async def test_an_answer_cut_at_the_output_limit_splits_the_chunk_and_loses_nothing(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    files = {"a.py": CHANGE, "b.py": CHANGE.replace("def shell", "def other_shell")}
    findings = [{**GOOD, "path": path, "title": f"Shell injection in {path}"} for path in files]
    fake = FakeOpenAI(
        OpenAIExpect(path="/v1/chat/completions", key=KEY, model="review-model"),
        findings=findings,
    )
    fake.script.set(["truncated"])  # the first answer stops at max_tokens mid-finding
    repo = make_repo(tmp_path / "t", {"a.py": BASE, "b.py": BASE})
    commit(repo, files, "two shells")
    with serve_in_thread(fake.app) as base:
        outcome = await review(make_settings(**llm_env(base)), repo)
    # One packed chunk, cut off; then its two halves, each with its own answer budget.
    assert len(fake.requests) == 3
    budgets = [r["max_tokens"] for r in fake.requests]
    assert budgets == [1024 + 2 * 256, 1024 + 256, 1024 + 256]
    assert outcome.llm.split_on_length == 1 and outcome.llm.partial_answers == 0
    assert outcome.llm.partial_reason is None
    found = {p.finding.path for p in outcome.placed if "llm:" in p.finding.source}
    assert found == {"a.py", "b.py"}
    # The cut answer was not cached: a second run asks the whole chunk again.
    with serve_in_thread(fake.app) as base:
        await review(make_settings(**llm_env(base)), repo)
    assert len(fake.requests) == 4
