"""Review benchmark: a 200-file pull request through the real pipeline and GitHub adapter
against the fake GitHub, with a fake LLM that answers after 1 s.

Prints, for model concurrency 1 and 8: chunks, LLM calls and wall time, and the goal
(concurrency 8 within 1.3 x ceil(chunks / 8) s). Then the worker's CPU time for the same
PR with a fake LLM that answers at once (goal: under 2 s for the 200 files).

    .venv/bin/python bench/bench_review.py [--files 200] [--redis-url redis://127.0.0.1:6379/12]

The fake GitHub and the fake LLMs run in a separate process, so the CPU time printed is
the worker's own. Runs on loopback only; the Redis database given is flushed before and
after.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.analysis.llm_review import LLMReviewer
from bot.analysis.pipeline import ReviewPipeline, ReviewRequest
from bot.config import load_settings
from bot.diff.tokens import count_tokens
from bot.forges.base import ChangeTarget
from bot.forges.github.auth import GitHubApp, RetryPolicy
from bot.forges.github.client import GitHubClient
from bot.forges.github.forge import GitHubForge
from bot.llm.service import build_llm_service
from tests.fakes.fake_github import FakeGitHub, Pull, PullFile
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.support.servers import free_port, serve_in_thread

KEY = "sk-bench-0123456789abcdef0123456789abcdef"


def module(i: int) -> tuple[str, str]:
    """A small real-looking Python module and the patch that added its last function."""
    base = [f'"""Module {i}."""', "", "import os", "", ""]
    for k in range(6):
        base += [f"def helper_{i}_{k}(value):", f"    return value * {k} + {i}", "", ""]
    added = [
        f"def handler_{i}(request):",
        "    name = request.args.get('name', '')",
        "    path = os.path.join('/srv/data', name)",
        "    with open(path) as handle:",
        "        return handle.read()",
    ]
    text = "\n".join(base + added) + "\n"
    start = len(base) + 1
    context = base[-3:]
    patch = f"@@ -{start - 3},3 +{start - 3},{3 + len(added)} @@\n"
    patch += "\n".join(" " + c for c in context) + "\n" + "\n".join("+" + a for a in added)
    return text, patch


def build_pr(github: FakeGitHub, files: int) -> None:
    repo = github.add_repo("bench", "big", 1)
    tree: dict[str, bytes] = {}
    pull_files = []
    for i in range(files):
        path = f"pkg{i % 20}/module_{i}.py"
        text, patch = module(i)
        tree[path] = text.encode()
        pull_files.append(PullFile(path, "modified", patch, 5, 0))
    repo.pulls[1] = Pull(1, "b" * 40, "h" * 40, pull_files)
    repo.trees["h" * 40] = tree
    repo.trees["main"] = {}


async def one_run(
    github_url: str, llm_url: str, private_key: str, redis: Redis, *, concurrency: int
) -> tuple[int, int, float, float]:
    settings = load_settings(
        {
            "LLM_PROVIDER": "openai_compatible", "LLM_BASE_URL": f"{llm_url}/v1",
            "LLM_MODEL": "bench-model", "LLM_API_KEY": KEY, "LLM_TIMEOUT_S": "30",
            "LLM_CONCURRENCY": str(concurrency), "LLM_CONTEXT_WINDOW": "32768",
            "LLM_PRICE_INPUT": "0.1", "LLM_PRICE_OUTPUT": "0.4",
            # The provider's real limits would be set here; the bench measures our side.
            "LLM_REQUESTS_PER_MINUTE": "100000", "LLM_TOKENS_PER_MINUTE": "100000000",
            "BUDGET_PER_TASK_USD": "0", "BUDGET_PROJECT_MONTHLY_USD": "0",
            "BUDGET_INSTALLATION_MONTHLY_USD": "0",
        },
        env_file=None,
    )
    await redis.flushdb()
    service = build_llm_service(settings, redis)
    assert service is not None
    app = GitHubApp(app_id=1, private_key=private_key, redis=redis, api_url=github_url,
                    write_spacing_s=0.0, retry=RetryPolicy(max_retries=2, backoff_s=0.05))
    forge = GitHubForge(GitHubClient(app, installation_id=1, owner="bench", repo="big"))
    await forge.open()
    reviewer = LLMReviewer(service, concurrency=concurrency, task_id=f"bench-{concurrency}")
    started, cpu = time.perf_counter(), time.process_time()
    outcome = await ReviewPipeline(forge, llm=reviewer).run(
        ReviewRequest(target=ChangeTarget(number=1))
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    await service.aclose()
    await forge.close()
    assert not outcome.llm.failed, outcome.llm.failed
    return outcome.llm.chunks_total, outcome.llm.chunks_sent, wall, cpu


def serve_fakes(public: str, files: int, ports: tuple[int, int, int]) -> None:
    """The other process: fake GitHub, a fake LLM answering after 1 s, one answering at once."""
    github = FakeGitHub(app_id=1, public_key_pem=public)
    build_pr(github, files)
    expect = OpenAIExpect(path="/v1/chat/completions", key=KEY, model="bench-model")
    slow = FakeOpenAI(expect, findings=[], slow_s=1.0)
    slow.script.set(["slow"] * 1_000_000)
    fast = FakeOpenAI(expect, findings=[])
    with (
        serve_in_thread(github.app, port=ports[0]),
        serve_in_thread(slow.app, port=ports[1]),
        serve_in_thread(fast.app, port=ports[2]),
    ):
        while True:
            time.sleep(3600)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    ports = (free_port(), free_port(), free_port())
    fakes = multiprocessing.get_context("spawn").Process(
        target=serve_fakes, args=(public, args.files, ports), daemon=True
    )
    fakes.start()
    github_url, slow_url, fast_url = (f"http://127.0.0.1:{p}" for p in ports)
    await wait_up(github_url)
    redis = Redis.from_url(args.redis_url)
    # A worker loads the tokenizer vocabularies once per process, not per PR (~1.2 s).
    count_tokens("warm up", "bench-model")
    count_tokens("warm up", "gpt-4o")
    print(f"PR: {args.files} files, fake LLM answering after 1 s")
    try:
        for concurrency in (1, 8):
            chunks, calls, wall, _ = await one_run(
                github_url, slow_url, private, redis, concurrency=concurrency
            )
            goal = 1.3 * math.ceil(chunks / concurrency)
            verdict = "meets" if wall <= goal else "misses"
            print(f"concurrency {concurrency}: {chunks} chunks, {calls} LLM calls, "
                  f"wall {wall:.1f} s (goal <= {goal:.1f} s: {verdict})")
        chunks, calls, wall, cpu = await one_run(github_url, fast_url, private, redis,
                                                 concurrency=8)
        print(f"0 s LLM: {chunks} chunks, wall {wall:.2f} s, worker CPU {cpu:.2f} s "
              f"(goal < 2 s: {'meets' if cpu < 2 else 'misses'})")
    finally:
        fakes.terminate()
        await redis.flushdb()
        await redis.aclose()


async def wait_up(url: str) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                await client.get(url, timeout=1)
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    raise RuntimeError("the fake servers did not start")


if __name__ == "__main__":
    asyncio.run(main())
