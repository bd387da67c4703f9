from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.jobs.redis_checks import redis_durability_problems, warn_if_redis_may_lose_jobs
from tests.events.private_redis import private_redis
from tests.support.servers import free_port


async def test_a_redis_that_can_lose_jobs_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with private_redis(tmp_path, "--appendonly", "no", "--maxmemory-policy", "allkeys-lru") as s:
        client = Redis.from_url(s.url)
        try:
            with caplog.at_level(logging.WARNING, logger="bot.jobs.redis_checks"):
                problems = await warn_if_redis_may_lose_jobs(client)
        finally:
            await client.aclose()
    assert len(problems) == 2
    assert "appendonly is 'no'" in problems[0] and "appendonly yes" in problems[0]
    assert "'allkeys-lru'" in problems[1] and "noeviction" in problems[1]
    warnings = [r.getMessage() for r in caplog.records if "may lose queued jobs" in r.message]
    assert len(warnings) == 2
    # The warning sends the operator to a section of the README that exists.
    section = re.search(r'see "([^"]+)" in the README', warnings[0])
    assert section is not None, warnings[0]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert re.search(rf"^#+ {re.escape(section.group(1))}$", readme, re.MULTILINE)


async def test_a_durable_redis_passes(tmp_path: Path) -> None:
    with private_redis(tmp_path, "--appendonly", "yes", "--maxmemory-policy", "noeviction") as s:
        client = Redis.from_url(s.url)
        try:
            assert await redis_durability_problems(client) == []
        finally:
            await client.aclose()


async def test_an_unreachable_redis_only_warns(caplog: pytest.LogCaptureFixture) -> None:
    client = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.jobs.redis_checks"):
            assert await warn_if_redis_may_lose_jobs(client) == []
    finally:
        await client.aclose()
    assert "could not check Redis persistence settings" in caplog.text
