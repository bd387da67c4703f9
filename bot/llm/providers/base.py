"""What the service needs from a provider: one attempt at a completion, classified errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

from bot.llm.types import ProviderCall, ProviderReply, RateInfo, StructuredMode

# Weaker mechanism to try when a provider refuses the current one with a 400.
DOWNGRADE: dict[StructuredMode, StructuredMode] = {
    "json_schema": "json_object",
    "json_object": "prompt",
}


class Provider(Protocol):
    """One provider endpoint and model.

    ``complete`` makes exactly one HTTP attempt (the SDK's own retries are off: the
    service retries, so rate limits, the circuit breaker and Retry-After are handled in
    one place). It raises ``TransientError`` for what a retry may fix and
    ``PermanentError`` for what it will not.
    """

    name: str
    model: str
    structured: StructuredMode

    async def complete(self, call: ProviderCall) -> ProviderReply: ...

    async def aclose(self) -> None: ...


def error_message(body: object, fallback: str) -> str:
    """The provider's own error text (both protocols nest it as ``{"error": {"message"}}``),
    cut short: it goes into logs and the summary."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:300]
    return fallback[:300]


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds a 429/503 asks us to wait: ``retry-after-ms`` (OpenAI) or ``retry-after``."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(float(value) * scale, 0.0)
            except ValueError:
                continue
    return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


def _duration_s(value: str | None) -> float | None:
    """OpenAI's resets ("1s", "6m0s", "20ms") or plain seconds."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    return sum(float(n) * _UNIT_S[unit] for n, unit in parts) if parts else None


def _until_s(value: str | None) -> float | None:
    """Anthropic's resets: an RFC 3339 time."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def rate_info(headers: Mapping[str, str]) -> RateInfo | None:
    """The limits a provider's answer announces: OpenAI's ``x-ratelimit-*`` (also sent by
    several compatible providers) or Anthropic's ``anthropic-ratelimit-*``; None when
    the answer says nothing."""
    if headers.get("x-ratelimit-limit-requests") or headers.get("x-ratelimit-remaining-requests"):
        return RateInfo(
            limit_requests=_int(headers.get("x-ratelimit-limit-requests")),
            limit_tokens=_int(headers.get("x-ratelimit-limit-tokens")),
            remaining_requests=_int(headers.get("x-ratelimit-remaining-requests")),
            remaining_tokens=_int(headers.get("x-ratelimit-remaining-tokens")),
            reset_requests_s=_duration_s(headers.get("x-ratelimit-reset-requests")),
            reset_tokens_s=_duration_s(headers.get("x-ratelimit-reset-tokens")),
        )
    prefix = "anthropic-ratelimit-"
    if headers.get(prefix + "requests-limit") or headers.get(prefix + "requests-remaining"):
        # The combined token limit when sent, else the input one (the tighter in practice).
        tokens = "tokens" if headers.get(prefix + "tokens-limit") else "input-tokens"
        return RateInfo(
            limit_requests=_int(headers.get(prefix + "requests-limit")),
            limit_tokens=_int(headers.get(f"{prefix}{tokens}-limit")),
            remaining_requests=_int(headers.get(prefix + "requests-remaining")),
            remaining_tokens=_int(headers.get(f"{prefix}{tokens}-remaining")),
            reset_requests_s=_until_s(headers.get(prefix + "requests-reset")),
            reset_tokens_s=_until_s(headers.get(f"{prefix}{tokens}-reset")),
        )
    return None
