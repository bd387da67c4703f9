"""Cache benchmark: the re-push workload of a 10-file pull request.

A PR changes 10 files. It is reviewed (cold), re-run unchanged, and then reviewed again
after a push that changed 1 of the 10 files: as the review job does, only the files changed
since the last audited head go to the model (chunks are packed to the budget, so a full
re-review after a push would re-send the chunk holding the changed file). Each review goes
through the real pipeline part (``LLMReviewer``: the diff engine's chunker, prompts, secret
masking) and the real ``LLMService`` (Redis cache, budgets, limits) against the fake OpenAI
server on loopback.
Prints chunks, cache hits, files and requests that reached the model and cost per review.
Goal: a re-run is 100 % cache hits; a re-push sends only the changed file.

    .venv/bin/python bench/bench_llm_cache.py [--redis-url redis://127.0.0.1:6379/3 | --no-redis]

Only keys under ``auditbot:llm:`` of the given Redis database are deleted, before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from redis.asyncio import Redis

from bot.analysis.llm_review import LLMReviewer
from bot.analysis.repo_config import RepoConfig
from bot.config import load_settings
from bot.diff.parse import FileDiff, parse_patch
from bot.llm.service import LLMService, build_llm_service

# The fake provider lives with the tests; make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.support.servers import serve_in_thread

FILES = 10


def source(index: int, version: int) -> str:
    """A ~120-line Python module; ``version`` 1 is the PR head, 2 the re-push."""
    lines = [f'"""Module {index}."""', "import os", ""]
    for fn in range(12):
        lines.append(f"def handler_{index}_{fn}(request, value):")
        for step in range(8):
            lines.append(f"    part_{step} = compute(value, {step})")
        lines.append("    return part_0")
        lines.append("")
    if version >= 1:  # the PR's change: in three functions
        for fn in (1, 5, 9):
            at = 3 + fn * 11 + 2
            lines[at] = lines[at].replace("compute(", "compute_checked(") + "  # validated"
    if version >= 2:  # the re-push touches this file again
        lines[3 + 7 * 11 + 4] += "  # and again"
    return "\n".join(lines) + "\n"


def patch(old: str, new: str) -> str:
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3)
    return "\n".join(line for line in diff if not line.startswith(("---", "+++")))


def pull_request(layout: str, changed_again: int | None) -> tuple[dict[str, FileDiff],
                                                                   dict[str, str]]:
    diffs: dict[str, FileDiff] = {}
    contents: dict[str, str] = {}
    # The incremental review of a push: only the file changed since the last audited head.
    indexes = range(FILES) if changed_again is None else [changed_again]
    for index in indexes:
        directory = "app" if layout == "one-dir" else f"pkg{index}"
        path = f"{directory}/module_{index}.py"
        head = source(index, 2 if index == changed_again else 1)
        diffs[path] = parse_patch(path, patch(source(index, 0), head), status="modified")
        contents[path] = head
    return diffs, contents


async def review(service: LLMService, diffs: Mapping[str, FileDiff],
                 contents: Mapping[str, str]) -> tuple[int, int, float]:
    reviewer = LLMReviewer(service, concurrency=8, task_id=None)
    _, stats = await reviewer.review(diffs, contents, config=RepoConfig(), hints=[])
    return stats.chunks_total, stats.cache_hits, stats.cost_usd


async def run(redis_url: str | None) -> None:
    fake = FakeOpenAI(OpenAIExpect(path="/v1/chat/completions", key="sk-bench",
                                   model="gpt-4.1-mini", max_tokens_field="max_completion_tokens"),
                      findings=[], extra_fields=frozenset({"prompt_cache_key"}))
    redis = Redis.from_url(redis_url) if redis_url else None
    with serve_in_thread(fake.app) as base, tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings({
            "LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk-bench", "LLM_BASE_URL": base + "/v1",
            "DATA_DIR": data_dir, "LLM_REQUESTS_PER_MINUTE": "100000",
            "LLM_TOKENS_PER_MINUTE": "100000000",
        }, env_file=None)
        print(f"cache backend: {'Redis ' + str(redis_url) if redis else 'disk (' + data_dir + ')'}")
        print("chunks from bot.diff.chunking.build_chunks via LLMReviewer (the real pipeline)")
        print(f"{'layout':9} {'review':22} {'files':>5} {'chunks':>6} {'hits':>5} "
              f"{'hit rate':>9} {'to model':>8} {'cost USD':>10}")
        for layout in ("one-dir", "per-dir"):
            await _clear(redis)
            service = build_llm_service(settings, redis)
            assert service is not None
            for label, changed in (("first push (cold)", None), ("re-run, unchanged", None),
                                   ("re-push, 1 of 10 files", 3)):
                before = len(fake.requests)
                diffs, contents = pull_request(layout, changed)
                chunks, hits, cost = await review(service, diffs, contents)
                sent = len(fake.requests) - before
                print(f"{layout:9} {label:22} {len(diffs):>5} {chunks:>6} {hits:>5} "
                      f"{hits / chunks:>8.0%} {sent:>8} {cost:>10.5f}")
            await service.aclose()
        await _clear(redis)
    if redis is not None:
        await redis.aclose()


async def _clear(redis: Redis | None) -> None:
    if redis is not None:
        keys = [key async for key in redis.scan_iter("auditbot:llm:*")]
        if keys:
            await redis.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--no-redis", action="store_true", help="use the disk cache")
    args = parser.parse_args()
    asyncio.run(run(None if args.no_redis else args.redis_url))


if __name__ == "__main__":
    main()
