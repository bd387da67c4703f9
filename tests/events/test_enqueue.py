"""The dedupe-and-enqueue script against real Redis, read back and run by arq itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.constants import default_queue_name, job_key_prefix
from arq.jobs import Job, JobStatus, deserialize_job
from arq.worker import Worker, func

from bot.events.enqueue import DeliveryQueue, delivery_key
from bot.jobs.contracts import (
    QUEUE_NAME,
    JobRequest,
    Repository,
    ReviewPullRequest,
    ScanPush,
    load_payload,
)

TTL_S = 7 * 86_400


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    client = ArqRedis.from_url(redis_url)
    yield client
    await client.aclose()


def review(sha: str = "a" * 40, delivery: str = "d-1") -> JobRequest:
    repository = Repository(forge="github", id=42, full_name="o/r", installation_id=7)
    payload = ReviewPullRequest(
        repository=repository,
        number=3,
        head_sha=sha,
        trigger="pull_request.opened",
        delivery_id=delivery,
    )
    return JobRequest("review_pull_request", f"review_pull_request:github:42:3:{sha}", payload)


def scan(delivery: str = "d-1") -> JobRequest:
    repository = Repository(forge="github", id=42, full_name="o/r")
    payload = ScanPush(
        repository=repository,
        ref="refs/heads/main",
        before="b" * 40,
        after="c" * 40,
        delivery_id=delivery,
    )
    return JobRequest("scan_push", "scan_push:github:42:-:" + "c" * 40, payload)


def test_the_contract_names_arqs_default_queue() -> None:
    assert default_queue_name == QUEUE_NAME


async def test_jobs_are_what_arq_itself_enqueues(redis: ArqRedis) -> None:
    queue = DeliveryQueue(redis, ttl_s=TTL_S)
    job = review()
    result = await queue.submit("github", "d-1", [job])
    assert (result.duplicate, result.enqueued) == (False, 1)

    [queued] = await redis.queued_jobs()
    assert queued.function == "review_pull_request"
    assert queued.job_id == job.job_id
    assert queued.args == (job.payload.model_dump(mode="json"),)
    assert queued.kwargs == {}
    assert queued.job_try is None
    assert await Job(job.job_id, redis).status() == JobStatus.queued

    # arq's own enqueue_job for the same function and argument writes the same record.
    theirs = await redis.enqueue_job("review_pull_request", *job.args(), _job_id="arq-made")
    assert theirs is not None
    ours_raw = await redis.get(job_key_prefix + job.job_id)
    theirs_raw = await redis.get(job_key_prefix + "arq-made")
    assert ours_raw is not None and theirs_raw is not None
    ours_def, theirs_def = deserialize_job(ours_raw), deserialize_job(theirs_raw)
    assert (ours_def.function, ours_def.args, ours_def.kwargs, ours_def.job_try) == (
        theirs_def.function,
        theirs_def.args,
        theirs_def.kwargs,
        theirs_def.job_try,
    )
    ours_ttl = await redis.pttl(job_key_prefix + job.job_id)
    theirs_ttl = await redis.pttl(job_key_prefix + "arq-made")
    assert abs(ours_ttl - theirs_ttl) < 60_000
    # ...and arq refuses a second job with our id, as it refuses its own duplicates.
    assert await redis.enqueue_job("review_pull_request", *job.args(), _job_id=job.job_id) is None


# arq 0.28's Worker.close() calls redis-py's deprecated close(); not ours to fix.
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_an_arq_worker_runs_them(redis: ArqRedis) -> None:
    ran: list[tuple[str, Any]] = []

    async def review_pull_request(ctx: dict[str, Any], payload: dict[str, Any]) -> None:
        ran.append(("review_pull_request", load_payload("review_pull_request", payload)))

    async def scan_push(ctx: dict[str, Any], payload: dict[str, Any]) -> None:
        ran.append(("scan_push", load_payload("scan_push", payload)))

    queue = DeliveryQueue(redis, ttl_s=TTL_S)
    await queue.submit("github", "d-1", [review(), scan()])
    worker = Worker(
        functions=[
            func(review_pull_request, name="review_pull_request"),
            func(scan_push, name="scan_push"),
        ],
        redis_pool=redis,
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
    )
    try:
        await asyncio.wait_for(worker.async_run(), 20)
    finally:
        await worker.close()
    assert sorted(ran, key=lambda item: item[0]) == [
        ("review_pull_request", review().payload),
        ("scan_push", scan().payload),
    ]


async def test_a_delivery_is_recorded_with_its_jobs_and_only_once(redis: ArqRedis) -> None:
    queue = DeliveryQueue(redis, ttl_s=TTL_S)
    assert (await queue.submit("github", "d-1", [review()])).enqueued == 1
    ttl = await redis.ttl(delivery_key("github", "d-1"))
    assert TTL_S - 5 <= ttl <= TTL_S

    again = await queue.submit("github", "d-1", [review()])
    assert again.duplicate
    # The same delivery id on the other forge is another delivery.
    assert not (await queue.submit("gitlab", "d-1", [scan("d-1")])).duplicate
    assert await redis.zcard(QUEUE_NAME) == 2


async def test_a_new_delivery_for_work_already_queued_adds_nothing(redis: ArqRedis) -> None:
    queue = DeliveryQueue(redis, ttl_s=TTL_S)
    await queue.submit("github", "d-1", [review(delivery="d-1")])
    second = await queue.submit("github", "d-2", [review(delivery="d-2"), scan("d-2")])
    assert (second.duplicate, second.enqueued) == (False, 1)  # only the scan is new
    assert await redis.zcard(QUEUE_NAME) == 2
    assert await redis.exists(delivery_key("github", "d-2")) == 1


async def test_five_copies_at_once_on_five_connections_make_one_job(redis_url: str) -> None:
    clients = [ArqRedis.from_url(redis_url) for _ in range(5)]
    try:
        queues = [DeliveryQueue(client, ttl_s=TTL_S) for client in clients]
        results = await asyncio.gather(
            *(queue.submit("github", "same", [review()]) for queue in queues)
        )
        assert sorted(r.duplicate for r in results) == [False, True, True, True, True]
        assert sum(r.enqueued for r in results) == 1
        assert await clients[0].zcard(QUEUE_NAME) == 1
    finally:
        for client in clients:
            await client.aclose()


async def test_a_redis_that_stops_answering_is_an_oserror_within_the_deadline(
    redis_url: str,
) -> None:
    """A server that accepts and never answers (a hung Redis): the batch gives up at its
    deadline with an OSError, which the web process answers with 503."""
    from redis.asyncio import Redis

    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=2)
    queue = DeliveryQueue(client, ttl_s=TTL_S, deadline_s=0.3)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError) as raised:
            await queue.submit("github", "d-hung", [review()])
        assert isinstance(raised.value, OSError)
        assert asyncio.get_running_loop().time() - started < 2
        assert accepted  # it did connect: the deadline, not the connection, ended it
    finally:
        await client.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    # The real Redis never saw the delivery.
    real = Redis.from_url(redis_url)
    try:
        assert not await real.exists(delivery_key("github", "d-hung"))
    finally:
        await real.aclose()


async def _layout(redis: ArqRedis, job_id: str) -> dict[str, tuple[str, bool]]:
    """{key (the job id written as <id>): (type, has a TTL)} of everything in the database."""
    found = {}
    for raw in await redis.keys("*"):
        key = raw.decode()
        kind = (await redis.type(key)).decode()
        found[key.replace(job_id, "<id>")] = (kind, await redis.pttl(key) > 0)
    return found


async def test_the_script_writes_exactly_the_keys_arq_writes(redis: ArqRedis) -> None:
    """The fast path mirrors arq's Redis layout (bot/events/enqueue.py). Whatever arq's own
    enqueue_job writes for a job (its keys, their types, which expire, the queue's member
    and score) the script must write too: a new arq that stores a job differently fails here
    before a worker silently ignores the web process's jobs."""
    job = review()
    before = int(time.time() * 1000)
    assert await redis.enqueue_job(job.name, *job.args(), _job_id=job.job_id) is not None
    theirs = await _layout(redis, job.job_id)
    [(member, their_score)] = await redis.zrange(QUEUE_NAME, 0, -1, withscores=True)
    await redis.flushdb()

    await DeliveryQueue(redis, ttl_s=TTL_S).submit("github", "d-1", [job])
    ours = await _layout(redis, job.job_id)
    assert ours.pop(delivery_key("github", "d-1")) == ("string", True)
    assert ours == theirs
    [(our_member, our_score)] = await redis.zrange(QUEUE_NAME, 0, -1, withscores=True)
    assert our_member == member == job.job_id.encode()
    assert before <= their_score and abs(our_score - their_score) < 60_000
