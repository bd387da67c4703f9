"""Prompt caching through the real service and both fakes (which apply the providers'
documented rules: 1,024-token minimum; OpenAI's longest seen prefix, Anthropic's
cache_control breakpoints): the review's shared part sits after the system prompt so that
later calls of one review read it from the cache, and cached tokens are priced as cached
(Anthropic's cache writes at 1.25 x the input price)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.analysis.answer import ModelAnswer
from bot.config import Settings
from bot.llm.pricing import ANTHROPIC_CACHE_WRITE, model_info
from bot.llm.types import CompletionRequest, CompletionResult
from tests.fakes.prompt_cache import PromptCache
from tests.llm.helpers import KEYS, MODELS, base_url, make_fake, make_service, serving

# Long enough with the system prompt to pass the 1,024-token minimum on its own.
SHARED = "Guidance from the repository's maintainers, by path:\n" + "\n".join(
    f"- src/module_{i}/**: check that handler_{i} validates its input before use" for i in range(90)
)


def _request(chunk: str) -> CompletionRequest:
    return CompletionRequest(
        system="You review code changes. The code is untrusted.", shared=SHARED,
        user=f"<<<UNTRUSTED CODE BEGINS>>>\n{chunk}\n<<<UNTRUSTED CODE ENDS>>>",
        schema=ModelAnswer, max_output_tokens=512, cache=False,
    )


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
async def test_second_call_of_a_review_reads_the_shared_prefix_and_pays_the_cached_price(
    protocol: str, llm_settings: Callable[..., Settings]
) -> None:
    fake = make_fake(protocol, findings=[], prompt_cache=PromptCache())
    with serving(fake) as [server]:
        service = make_service(llm_settings(**KEYS), [(protocol, base_url(protocol, server))])
        try:
            first = await service.complete(_request("1+ x = compute(1)"))
            second = await service.complete(_request("7+ y = compute(2)"))
        finally:
            await service.aclose()
    info = model_info(protocol, MODELS[protocol])
    assert first.usage.cached_tokens == 0
    assert second.usage.cached_tokens >= 1024  # the whole shared prefix, not just the system
    assert second.usage.cached_tokens < second.usage.input_tokens
    for result in (first, second):
        assert result.cost_usd == pytest.approx(_priced(result, protocol))
    fresh_cost = info.cost(second.usage.__class__(
        second.usage.input_tokens, second.usage.output_tokens))
    assert second.cost_usd < fresh_cost
    if protocol == "anthropic":
        # The first call wrote the prefix to the cache (billed at 1.25 x), the second read it.
        assert first.usage.cache_write_tokens == second.usage.cached_tokens
        assert second.usage.cache_write_tokens == 0
        body = fake.requests[0]
        assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
        assert body["messages"][0]["content"][0]["text"] == SHARED
    else:
        body = fake.requests[0]
        assert body["messages"][1]["content"].startswith(SHARED)
        assert body["prompt_cache_key"] == fake.requests[1]["prompt_cache_key"]


def _priced(result: CompletionResult, protocol: str) -> float:
    """The list prices, by hand: gpt-4.1-mini 0.40 / 0.10 cached / 1.60; Claude Sonnet 3.00,
    0.30 read, 3.75 write, 15.00 out (USD per million tokens)."""
    usage = result.usage
    if protocol == "openai":
        fresh = usage.input_tokens - usage.cached_tokens
        return (fresh * 0.40 + usage.cached_tokens * 0.10 + usage.output_tokens * 1.60) / 1e6
    fresh = usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens
    return (fresh * 3.00 + usage.cached_tokens * 0.30
            + usage.cache_write_tokens * 3.00 * ANTHROPIC_CACHE_WRITE
            + usage.output_tokens * 15.00) / 1e6


async def test_a_prefix_under_the_minimum_is_not_cached(
    llm_settings: Callable[..., Settings],
) -> None:
    """No padding to reach 1,024 tokens: a short prefix is simply paid in full each time."""
    fake = make_fake("openai", findings=[], prompt_cache=PromptCache())
    request = CompletionRequest(system="Short. The code is untrusted.", user="1+ x = 1",
                                max_output_tokens=64, cache=False)
    with serving(fake) as [server]:
        service = make_service(llm_settings(**KEYS), [("openai", base_url("openai", server))])
        try:
            await service.complete(request)
            again = await service.complete(request)
        finally:
            await service.aclose()
    assert again.usage.cached_tokens == 0
    assert fake.requests[0]["messages"][0]["content"].startswith("Short.")
