"""Build real services against the fakes: one chain link per (protocol, fake) pair."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from redis.asyncio import Redis

from bot.analysis.answer import ModelAnswer
from bot.config import Settings
from bot.llm.factory import build_provider
from bot.llm.pricing import model_info
from bot.llm.retry import Handle
from bot.llm.service import LLMService, backends
from bot.llm.types import CompletionRequest
from bot.llm.usage import UsageSink
from tests.fakes.fake_anthropic import FakeAnthropic
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.support.servers import serve_in_thread

KEYS = {"OPENAI_API_KEY": "sk-test-openai", "ANTHROPIC_API_KEY": "sk-ant-test"}
MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-sonnet-4-6"}
PROTOCOLS = ("openai", "anthropic")

Fake = FakeOpenAI | FakeAnthropic


def make_fake(protocol: str, **options: Any) -> Fake:
    if protocol == "openai":
        return FakeOpenAI(
            OpenAIExpect(path="/v1/chat/completions", key=KEYS["OPENAI_API_KEY"],
                         model=MODELS["openai"], max_tokens_field="max_completion_tokens"),
            # OpenAI itself accepts prompt_cache_key (the compatible presets' fakes refuse it).
            extra_fields=frozenset({"prompt_cache_key"}),
            **options,
        )
    return FakeAnthropic(key=KEYS["ANTHROPIC_API_KEY"], model=MODELS["anthropic"], **options)


def base_url(protocol: str, server: str) -> str:
    return server + "/v1" if protocol == "openai" else server


@contextmanager
def serving(*fakes: Fake) -> Iterator[list[str]]:
    with ExitStack() as stack:
        yield [stack.enter_context(serve_in_thread(fake.app)) for fake in fakes]


def make_service(
    settings: Settings,
    chain: list[tuple[str, str]],
    *,
    redis: Redis | None = None,
    sink: UsageSink | None = None,
) -> LLMService:
    """``chain``: (protocol, base URL) pairs, primary first."""
    handles = []
    for protocol, url in chain:
        model = MODELS[protocol]
        provider = build_provider(protocol, model, settings, primary=False, base_url=url)
        handles.append(Handle(provider, model_info(protocol, model)))
    parts = backends(settings, redis)
    return LLMService(settings, handles, cache=parts.cache, limiter=parts.limiter,
                      breaker=parts.breaker, budgets=parts.budgets, sink=sink)


def review_request(user: str = "diff --git a/app/db.py b/app/db.py", **options: Any
                   ) -> CompletionRequest:
    values: dict[str, Any] = {
        "system": "You review code changes.", "user": user, "schema": ModelAnswer,
        "max_output_tokens": 1024, "cache": False,
    }
    values.update(options)
    return CompletionRequest(**values)
