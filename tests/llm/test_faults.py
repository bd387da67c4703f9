"""Faults from the fakes, once per protocol: each ends in a retry, a repair, a fallback or a
recorded failure, within bounded time."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

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


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("fault", "stream"),
    [("500", False), ("503", False), ("529", False), ("slow", False), ("drop", False),
     ("cut_stream", True)],
)
async def test_transient_fault_is_retried(
    protocol: str, fault: str, stream: bool, settings: Settings
) -> None:
    fake = make_fake(protocol, slow_s=1.0)  # past the 0.5 s timeout
    fake.script.set([fault])
    sink = MemoryUsageSink()
    with serving(fake) as (server,):
        service = make_service(settings, [(protocol, base_url(protocol, server))], sink=sink)
        started = time.monotonic()
        result = await service.complete(review_request(stream=stream))
        elapsed = time.monotonic() - started
        await service.aclose()
    assert isinstance(result.parsed, ModelAnswer) and len(result.parsed.findings) == 2
    assert len(fake.requests) == 2  # the failed attempt and the retry
    assert elapsed < 3.0
    assert [r.ok for r in sink.records] == [True]


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
