"""PR-Agent, the peer of the economy benchmark: installed from PyPI into its own Python 3.12
venv in a temporary folder, run as ``python -m pr_agent.cli --pr_url main review`` with
its local git provider inside the benchmark's repository (head branch checked out),
against a scripted model of its own (same answers, same counting) on loopback.

Settings, through PR-Agent's environment overrides: model ``gpt-4o`` with no fallbacks,
``OPENAI.API_BASE`` at the fake, ``max_model_tokens`` 128,000 (its default 32,000 prunes
files: ``--pr-agent-budget 32000`` shows how many). Nothing is downloaded at run time:
litellm reads its bundled price map (``LITELLM_LOCAL_MODEL_COST_MAP``) and tiktoken
finds the vocabularies this project ships (``bot/diff/vocab``) in its cache folder, under
the names tiktoken gives the files it would fetch.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.economy_model import KEY, scripted_model
from bench.economy_pr import FLAWED, PullRequest
from tests.support.gitrepo import git
from tests.support.servers import serve_in_thread

VERSION = "0.49.0"
PYTHON = os.environ.get("PR_AGENT_PYTHON", "/root/.pyenv/versions/3.12.1/bin/python3.12")
VOCAB = Path(__file__).resolve().parent.parent / "bot" / "diff" / "vocab"
_VOCAB_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_FILE = re.compile(r"^## File: '([^']+)'", re.MULTILINE)


@dataclass
class PeerRun:
    calls: int
    chars: int
    tokens: int
    seconds: float
    files_sent: int  # of the PR's reviewable files, how many its prompt holds


def ensure_pr_agent(root: Path) -> Path:
    """The venv's python: ``PR_AGENT_VENV`` when set (reused between runs), else a fresh
    venv under ``root`` (the benchmark's temporary folder)."""
    given = os.environ.get("PR_AGENT_VENV")
    venv = Path(given) if given else root / "pr-agent-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"installing pr-agent {VERSION} into {venv} (a few minutes)...", flush=True)
        subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"pr-agent=={VERSION}"],
                       check=True)
    cache = venv / "tiktoken-cache"
    cache.mkdir(exist_ok=True)
    for name in ("o200k_base", "cl100k_base"):
        digest = hashlib.sha1(_VOCAB_URL.format(name).encode()).hexdigest()
        if not (cache / digest).exists():
            shutil.copyfile(VOCAB / f"{name}.tiktoken", cache / digest)
    return python


def pr_agent_review(root: Path, pr: PullRequest, delay_s: float,
                    max_tokens: int = 128_000) -> PeerRun:
    python = ensure_pr_agent(root)
    model = scripted_model(delay_s, openai_itself=False, model="gpt-4o")
    git(pr.repo, "checkout", "-q", pr.head)
    with ExitStack() as stack:
        url = stack.enter_context(serve_in_thread(model.app))
        env = {
            "PATH": os.environ["PATH"], "HOME": str(root), "LOG_LEVEL": "WARNING",
            "CONFIG__GIT_PROVIDER": "local", "CONFIG__MODEL": "gpt-4o",
            "CONFIG__FALLBACK_MODELS": "[]", "CONFIG__MAX_MODEL_TOKENS": str(max_tokens),
            "CONFIG__PUBLISH_OUTPUT_PROGRESS": "false",
            "OPENAI__KEY": KEY, "OPENAI__API_BASE": f"{url}/v1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "TIKTOKEN_CACHE_DIR": str(python.parent.parent / "tiktoken-cache"),
        }
        started = time.monotonic()
        done = subprocess.run([str(python), "-m", "pr_agent.cli", "--pr_url", pr.base, "review"],
                              cwd=pr.repo, env=env, capture_output=True, text=True,
                              timeout=900)
        seconds = time.monotonic() - started
    if done.returncode != 0 or not model.requests:
        raise RuntimeError(f"PR-Agent failed ({done.returncode}; refusals {model.refusals}):"
                           f"\n{done.stderr[-3000:]}")
    review = pr.repo / "review.md"
    review.unlink(missing_ok=True)  # keep the work tree clean for the next run
    sent: set[str] = set()
    for body in model.requests:
        for message in body["messages"]:
            sent.update(_FILE.findall(str(message.get("content", ""))))
    reviewable = set(pr.edited) | set(FLAWED)
    return PeerRun(
        calls=len(model.requests), chars=model.prompt_chars,
        tokens=sum(u["prompt_tokens"] for u in model.usages), seconds=seconds,
        files_sent=len(sent & reviewable),
    )
