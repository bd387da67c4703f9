"""What the service needs from a provider: one attempt at a completion, classified errors."""

from __future__ import annotations

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
