"""Faults from the fakes, once per protocol: each ends in a retry, a repair, a fallback or a
recorded failure, within bounded time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from bot.analysis.answer import ModelAnswer
from bot.config import Settings
from bot.llm.types import InvalidOutput, LLMFailure
from bot.llm.usage import MemoryUsageSink
from tests.llm.conftest import tcp_reset_server
from tests.llm.helpers import (
    KEYS,
    PROTOCOLS,
    base_url,
    make_fake,
    make_service,
    review_request,
    serving,
)

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def settings(llm_settings: Callable[..., Settings]) -> Settings:
    return llm_settings(**KEYS)


# What the retry loop logs for the failed first attempt: proof the fault really happened
# on the wire and was classified as retryable for the right reason.
TRANSIENT = [
    ("500", False, "HTTP 500"),
    ("503", False, "HTTP 503"),
    ("529", False, "HTTP 529"),
    ("slow", False, "timed out"),
    ("drop", False, "connection failed"),
    ("cut_stream", True, "stream broke off"),
    ("stall_stream", True, "Timeout"),  # silent mid-stream past the per-read timeout
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(("fault", "stream", "reason"), TRANSIENT,
                         ids=[fault for fault, _, _ in TRANSIENT])
async def test_transient_fault_is_retried(
    protocol: str, fault: str, stream: bool, reason: str, settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = make_fake(protocol, slow_s=1.0)  # past the 0.5 s timeout
    fake.script.set([fault])
    sink = MemoryUsageSink()
    deltas: list[str] = []
    with serving(fake) as (server,), caplog.at_level(logging.INFO, logger="bot.llm.retry"):
        service = make_service(settings, [(protocol, base_url(protocol, server))], sink=sink)
        started = time.monotonic()
        result = await service.complete(review_request(stream=stream, on_text=deltas.append))
        elapsed = time.monotonic() - started
        await service.aclose()
    assert isinstance(result.parsed, ModelAnswer) and len(result.parsed.findings) == 2
    assert len(fake.requests) == 2  # the failed attempt and the retry
    assert elapsed < 3.0
    assert [r.ok for r in sink.records] == [True]
    failed = [r.getMessage() for r in caplog.records if "attempt 1 failed" in r.getMessage()]
    assert len(failed) == 1 and reason in failed[0], failed
    if stream:  # the cut attempt had already shown part of the answer
        assert "".join(deltas).endswith(result.text) and len("".join(deltas)) > len(result.text)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_429_retry_after_is_obeyed(
    protocol: str, llm_settings: Callable[..., Settings]
) -> None:
    fake = make_fake(protocol, retry_after="1")
    fake.script.set(["429"])
    with serving(fake) as (server,):
        service = make_service(llm_settings(**KEYS), [(protocol, base_url(protocol, server))])
        started = time.monotonic()
        result = await service.complete(review_request())
        elapsed = time.monotonic() - started
        await service.aclose()
    assert result.parsed is not None
    assert len(fake.requests) == 2
    assert 0.9 <= elapsed < 3.0  # waited the server's Retry-After, not the tiny backoff


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_retry_after_past_the_retry_budget_falls_back_at_once(
    protocol: str, redis: Redis, llm_settings: Callable[..., Settings]
) -> None:
    # Waiting out a 30 s Retry-After would spend the whole 2 s retry budget: give up on
    # this provider now, and every worker skips it until the wait is over.
    settings = llm_settings(LLM_RETRY_BUDGET_S="2", **KEYS)
    other = "anthropic" if protocol == "openai" else "openai"
    limited, backup = make_fake(protocol, retry_after="30"), make_fake(other)
    limited.script.set(["429"])
    sink = MemoryUsageSink()
    with serving(limited, backup) as (first, second):
        chain = [(protocol, base_url(protocol, first)), (other, base_url(other, second))]
        worker_a = make_service(settings, chain, redis=redis, sink=sink)
        worker_b = make_service(settings, chain, redis=redis, sink=sink)
        started = time.monotonic()
        during = await worker_a.complete(review_request(user="chunk 1"))
        elsewhere = await worker_b.complete(review_request(user="chunk 2"))
        elapsed = time.monotonic() - started
        await worker_a.aclose()
        await worker_b.aclose()
    assert elapsed < 1.5
    assert (during.provider, elsewhere.provider) == (other, other)
    assert len(limited.requests) == 1  # the 429; worker B never called the blocked provider
    errors = [r.error or "" for r in sink.records if not r.ok]
    assert "HTTP 429" in errors[0] and "retry budget spent" in errors[0]
    assert "rate limit leaves no room" in errors[1]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_retries_are_bounded_and_the_failure_is_recorded(
    protocol: str, settings: Settings
) -> None:
    fake = make_fake(protocol)
    fake.script.set(["500"] * 10)
    sink = MemoryUsageSink()
    with serving(fake) as (server,):
        service = make_service(settings, [(protocol, base_url(protocol, server))], sink=sink)
        started = time.monotonic()
        with pytest.raises(LLMFailure) as raised:
            await service.complete(review_request(task_id=None))
        await service.aclose()
    assert time.monotonic() - started < 3.0
    assert len(fake.requests) == 3  # LLM_MAX_RETRIES=2: one attempt and two retries
    assert "HTTP 500" in raised.value.reason and "after 3 attempts" in raised.value.reason
    assert [(r.ok, r.cost_usd) for r in sink.records] == [(False, 0.0)]
    assert sink.records[0].error is not None


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("fault", ["fenced", "bare_list"])
async def test_local_repair_needs_no_second_request(
    protocol: str, fault: str, settings: Settings
) -> None:
    fake = make_fake(protocol, answer_as_text=True) if protocol == "anthropic" else (
        make_fake(protocol)
    )
    fake.script.set([fault])
    with serving(fake) as (server,):
        service = make_service(settings, [(protocol, base_url(protocol, server))])
        result = await service.complete(review_request())
        await service.aclose()
    assert isinstance(result.parsed, ModelAnswer) and len(result.parsed.findings) == 2
    assert len(fake.requests) == 1
    assert result.repairs  # what was done is reported, not hidden


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_truncated_answer_keeps_every_complete_finding(
    protocol: str, settings: Settings
) -> None:
    fake = make_fake(protocol)
    fake.script.set(["truncated"])
    with serving(fake) as (server,):
        service = make_service(settings, [(protocol, base_url(protocol, server))])
        result = await service.complete(review_request())
        await service.aclose()
    assert isinstance(result.parsed, ModelAnswer)
    assert [f.path for f in result.parsed.findings] == ["app/db.py"]
    assert "cut after last complete item" in result.repairs


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("fault", ["invalid_json", "wrong_shape"])
async def test_invalid_answer_gets_one_fixup_request(
    protocol: str, fault: str, settings: Settings
) -> None:
    fake = make_fake(protocol)
    fake.script.set([fault])
    with serving(fake) as (server,):
        service = make_service(settings, [(protocol, base_url(protocol, server))])
        result = await service.complete(review_request())
        await service.aclose()
    assert isinstance(result.parsed, ModelAnswer) and len(result.parsed.findings) == 2
    assert len(fake.requests) == 2
    fixup = fake.requests[1]
    fixup_text = json_text(fixup)
    assert "Answer to repair" in fixup_text
    assert any(r.startswith("fix-up request") for r in result.repairs)
    assert result.usage.input_tokens > 0  # both calls are counted


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_still_invalid_after_repair_is_a_recorded_failure(
    protocol: str, settings: Settings
) -> None:
    fake = make_fake(protocol)
    fake.script.set(["invalid_json", "wrong_shape"])
    sink = MemoryUsageSink()
    with serving(fake) as (server,):
        service = make_service(settings, [(protocol, base_url(protocol, server))], sink=sink)
        with pytest.raises(InvalidOutput) as raised:
            await service.complete(review_request())
        await service.aclose()
    assert "after one repair request" in raised.value.reason
    assert "wrong shape" in raised.value.reason
    assert len(fake.requests) == 2
    (record,) = sink.records
    assert not record.ok and record.cost_usd > 0  # the tokens were spent and are counted


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_reset_falls_back(protocol: str, settings: Settings) -> None:
    other = "anthropic" if protocol == "openai" else "openai"
    fallback = make_fake(other)
    sink = MemoryUsageSink()
    with tcp_reset_server() as reset, serving(fallback) as (server,):
        service = make_service(
            settings, [(protocol, base_url(protocol, reset)), (other, base_url(other, server))],
            sink=sink,
        )
        started = time.monotonic()
        result = await service.complete(review_request())
        await service.aclose()
    assert time.monotonic() - started < 3.0
    assert (result.provider, result.parsed is not None) == (other, True)
    assert [(r.provider, r.ok) for r in sink.records] == [(protocol, False), (other, True)]
    assert "connection" in (sink.records[0].error or "")


def json_text(body: dict[str, object]) -> str:
    import json

    return json.dumps(body)
