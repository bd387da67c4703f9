"""Service-level behaviour: bounded concurrency, the untrusted-data notice, the redaction
seam, and streaming deltas."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.config import Settings
from bot.llm.service import UNTRUSTED_NOTICE, build_llm_service
from tests.llm.helpers import KEYS, base_url, make_fake, review_request, serving


async def test_calls_in_flight_are_bounded(llm_settings: Callable[..., Settings]) -> None:
    fake = make_fake("openai", slow_s=0.15)
    fake.script.set(["slow"] * 12)
    with serving(fake) as (server,):
        service = build_llm_service(llm_settings(
            LLM_PROVIDER="openai", LLM_BASE_URL=base_url("openai", server), LLM_CONCURRENCY="3",
            **KEYS,
        ), None)
        assert service is not None
        results = await asyncio.gather(*(
            service.complete(review_request(user=f"chunk {i}")) for i in range(12)
        ))
        await service.aclose()
    assert len(results) == 12 and all(r.parsed is not None for r in results)
    assert fake.max_in_flight == 3


async def test_notice_redaction_and_stream_deltas(llm_settings: Callable[..., Settings]) -> None:
    fake = make_fake("openai")
    deltas: list[str] = []
    with serving(fake) as (server,):
        service = build_llm_service(
            llm_settings(LLM_PROVIDER="openai", LLM_BASE_URL=base_url("openai", server), **KEYS),
            None,
            redact=lambda text: text.replace("AKIAABCDEFGHIJKLMNOP", "[REDACTED]"),
        )
        assert service is not None
        result = await service.complete(review_request(
            user="+ key = 'AKIAABCDEFGHIJKLMNOP'", stream=True, on_text=deltas.append,
        ))
        await service.aclose()
    system, user = (m["content"] for m in fake.requests[0]["messages"])
    assert UNTRUSTED_NOTICE in system
    assert "AKIAABCDEFGHIJKLMNOP" not in user and "[REDACTED]" in user
    assert len(deltas) > 1 and "".join(deltas) == result.text
