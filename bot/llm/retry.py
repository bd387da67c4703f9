"""Attempts against one provider: rate limits first, a per-call timeout, jittered exponential
backoff on what a retry may fix, Retry-After obeyed, the circuit breaker told about every
attempt, all bounded in count (LLM_MAX_RETRIES) and total time (LLM_RETRY_BUDGET_S)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass

from bot.config import Settings
from bot.llm.breaker import CircuitBreaker
from bot.llm.limits import RateLimiter, acquire
from bot.llm.pricing import ModelInfo
from bot.llm.providers.base import Provider
from bot.llm.types import PermanentError, ProviderCall, ProviderReply, TransientError

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


@dataclass
class Handle:
    """One link of the fallback chain: a provider and what its model costs."""

    provider: Provider
    info: ModelInfo

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def model(self) -> str:
        return self.provider.model

    @property
    def key(self) -> str:
        return f"{self.provider.name}:{self.provider.model}"


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    backoff_base_s: float
    budget_s: float
    timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_retries=settings.llm_max_retries,
            backoff_base_s=settings.llm_backoff_base_s,
            budget_s=settings.llm_retry_budget_s,
            timeout_s=settings.llm_timeout_s,
        )

    def backoff(self, attempt: int) -> float:
        delay = min(self.backoff_base_s * 2.0**attempt, MAX_BACKOFF_S)
        return delay * random.uniform(0.5, 1.5)


class GaveUp(Exception):
    """This provider failed for this call; the service falls back or records the failure."""

    def __init__(self, reason: str, *, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


async def call_with_retries(
    handle: Handle,
    call: ProviderCall,
    *,
    policy: RetryPolicy,
    limiter: RateLimiter,
    breaker: CircuitBreaker,
    estimated_tokens: int,
) -> ProviderReply:
    deadline = time.monotonic() + policy.budget_s
    downgraded = False
    attempt = 0
    last_reason = "no attempt made"
    while True:
        if not await breaker.allow(handle.key):
            raise GaveUp(f"circuit open after repeated failures ({last_reason})",
                         attempts=attempt)
        left = deadline - time.monotonic()
        if not await acquire(limiter, handle.key, estimated_tokens, max_wait_s=max(left, 0)):
            raise GaveUp("rate limit leaves no room within the retry budget", attempts=attempt)
        try:
            # The SDK's timeout is per read (a stalled stream fails after it); this bounds
            # the whole call: one timeout for a plain answer, what is left of the retry
            # budget for a stream, which may legitimately run long.
            limit = policy.timeout_s + 1.0
            if call.stream:
                limit = max(deadline - time.monotonic(), limit)
            reply = await asyncio.wait_for(handle.provider.complete(call), timeout=limit)
        except (TransientError, TimeoutError) as exc:
            reason = exc.reason if isinstance(exc, TransientError) else "timed out"
            retry_after = exc.retry_after if isinstance(exc, TransientError) else None
            if isinstance(exc, TransientError) and exc.rate is not None:
                await limiter.observe(handle.key, exc.rate)
            last_reason = reason
            await breaker.failure(handle.key)
            if retry_after is not None:
                await limiter.block(handle.key, retry_after)
            delay = retry_after if retry_after is not None else policy.backoff(attempt)
            attempt += 1
            log.info("%s attempt %d failed: %s", handle.key, attempt, reason)
            if attempt > policy.max_retries:
                raise GaveUp(f"{reason} (after {attempt} attempts)", attempts=attempt) from None
            if time.monotonic() + delay > deadline:
                raise GaveUp(f"{reason} (retry budget spent)", attempts=attempt) from None
            await asyncio.sleep(delay)
            continue
        except PermanentError as exc:
            downgrade = getattr(handle.provider, "downgrade", None)
            if exc.unsupported_format and not downgraded and downgrade is not None and downgrade():
                downgraded = True
                continue
            await breaker.failure(handle.key)
            raise GaveUp(exc.reason, attempts=attempt + 1) from None
        await breaker.success(handle.key)
        if reply.rate is not None:
            await limiter.observe(handle.key, reply.rate)
        actual = reply.usage.input_tokens + reply.usage.output_tokens
        if actual:
            await limiter.refund(handle.key, estimated_tokens - actual)
        return reply
