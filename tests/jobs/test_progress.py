"""Progress reaches people: Redis pub/sub for the WebSocket, a bar or plain lines for the CLI."""

from __future__ import annotations

import asyncio
import io
import json

from redis.asyncio import Redis

from bot.jobs.progress import RedisProgress, TerminalProgress, channel


async def test_redis_progress_publishes_and_keeps_the_last_event(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel("t1"))
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    await RedisProgress(redis, "t1")({"stage": "llm", "chunks_done": 1, "chunks_total": 4})
    message = None
    for _ in range(20):
        message = await pubsub.get_message(timeout=0.5)
        if message and message["type"] == "message":
            break
    assert message is not None
    event = json.loads(message["data"])
    assert event == {"task_id": "t1", "stage": "llm", "chunks_done": 1, "chunks_total": 4}
    assert json.loads(await redis.get(f"{channel('t1')}:last")) == event
    await pubsub.aclose()
    await redis.aclose()


def test_terminal_progress_writes_plain_lines_when_not_a_tty() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream)

    async def run() -> None:
        await progress({"stage": "fetched", "files_total": 3})
        for done in range(1, 11):
            await progress({"stage": "llm", "chunks_done": done, "chunks_total": 10})

    asyncio.run(run())
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("auditbot: fetched the change files_total=3")
    assert sum("chunks" in line for line in lines) == 1  # every 10th and the last only
    assert "10/10 chunks" in lines[-1]
    assert "\r" not in stream.getvalue()
