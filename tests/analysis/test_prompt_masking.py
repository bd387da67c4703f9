"""Planted secrets in code and config files go through a whole review with a model (a fake
OpenAI-compatible server on loopback): none reaches the prompts, the logs, the console, the
PR comments or any report format, yet each is reported as a critical finding."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.analysis.render import SummaryFacts, comment_body, summary_body
from bot.analysis.secrets import mask_secrets
from bot.config import Settings
from bot.diff.chunking import build_chunks
from bot.diff.parse import parse_unified_diff
from bot.jobs.local import report_from_outcome
from bot.reports.render import FORMATS, render
from tests.analysis.test_llm_review import KEY, llm_env, review
from tests.analysis.test_masking import KEY_BODY, PLANTED, _python_source
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.support.gitrepo import commit, make_repo
from tests.support.servers import serve_in_thread

# Unquoted values: only the config-file check finds them, and it needs to know the file.
CONFIG_VALUES = {
    "env": "Hq4!mLz9wX" + "7q",
    "docker": "Dk8pZ" + "x2Rt5YwVb3",
    "compose": "Pg9!xL" + "m2qR",
}


def _files() -> dict[str, str]:
    v = CONFIG_VALUES
    return {
        "app/settings.py": _python_source(),
        ".env.production": f"APP_NAME=shop\nDB_PASSWORD={v['env']}\n",
        "Dockerfile": f"FROM python:3.11-slim\nENV API_TOKEN={v['docker']}\nCMD [\"app\"]\n",
        "deploy/compose.yml": (
            "services:\n  db:\n    image: postgres:16\n    environment:\n"
            f"      POSTGRES_PASSWORD: {v['compose']}\n"
        ),
    }


def _planted() -> list[str]:
    return [*PLANTED.values(), KEY_BODY, *CONFIG_VALUES.values()]


@pytest.fixture
def fake_llm() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI(
        OpenAIExpect(path="/v1/chat/completions", key=KEY, model="review-model"), findings=[]
    )
    with serve_in_thread(fake.app) as base:
        yield fake, base


async def test_no_planted_secret_leaves_a_review(
    tmp_path: Path,
    fake_llm: tuple[FakeOpenAI, str],
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    fake, base = fake_llm
    repo = make_repo(tmp_path / "r", {"README.md": "shop\n"})
    commit(repo, _files(), "settings")
    outcome = await review(make_settings(**llm_env(base)), repo)

    prompts = "\n".join(str(request) for request in fake.requests)
    for path in _files():
        assert f"### {path} (added)" in prompts  # every file went to the model...
    assert prompts.count("<secret:") >= len(_planted())  # ...with each secret masked
    findings = outcome.open_findings
    for path in _files():
        assert any(f.path == path and f.severity.value == "critical" for f in findings), path

    report = report_from_outcome("t-1", "local", "shop", outcome)
    texts = {
        "prompts": prompts,
        "logs": caplog.text,
        "console": "".join(capsys.readouterr()),
        "comments": "\n".join(comment_body(f) for f in findings),
        "summary": summary_body(SummaryFacts(placed=outcome.placed)),
        **{f"report.{name}": render(report, name) for name in FORMATS},
    }
    for where, text in texts.items():
        for value in _planted():
            assert value not in text, (where, value[:4])


def test_chunks_of_config_files_are_masked_like_the_files() -> None:
    files = _files()
    diff = "".join(
        f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
        f"@@ -0,0 +1,{text.count(chr(10))} @@\n"
        + "".join(f"+{line}\n" for line in text.splitlines())
        for path, text in files.items()
    )
    chunks = build_chunks(parse_unified_diff(diff), files, budget_tokens=6000)
    assert chunks
    for text in [diff, "\n".join(chunk.text for chunk in chunks)]:
        masked, _ = mask_secrets(text)
        for value in _planted():
            assert value not in masked
        # Settings without a digit or symbol are left alone.
        assert "APP_NAME=shop" in masked and "image: postgres:16" in masked


def test_unquoted_code_is_not_masked_outside_config_files() -> None:
    chunk = "### app/auth.py (added)\n1+ token = get_token()\n2+ password = read_secret(path)\n"
    masked, matches = mask_secrets(chunk)
    assert (masked, matches) == (chunk, [])


def test_a_private_key_cut_short_in_a_chunk_is_still_masked() -> None:
    # A part split can end a chunk before the END line: the body lines still go.
    chunk = ("### keys/deploy.pem (added, part 1/2)\n"
             "1+ -----BEGIN RSA PRIVATE KEY-----\n"
             f"2+ {KEY_BODY}\n3+ {KEY_BODY[::-1]}\n")
    masked, matches = mask_secrets(chunk)
    assert KEY_BODY not in masked and KEY_BODY[::-1] not in masked
    assert [(m.kind, m.line, m.end_line) for m in matches] == [("private-key", 2, 4)]
