"""What the service needs from a provider: one attempt at a completion, classified errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from bot.llm.types import ProviderCall, ProviderReply, StructuredMode

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
