"""The plain data the LLM service exchanges: a request, token usage, a result, and the raw
reply a provider returns. No SDK object ever leaves a provider module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from bot.errors import LLMError

# How a provider is asked for structured output, strongest first.
StructuredMode = Literal["json_schema", "json_object", "tool", "prompt"]


@dataclass(frozen=True)
class CompletionRequest:
    """One model call: the system and user messages and the schema the answer must fit.

    ``shared`` is what every call of one review has in common, sent after the system
    prompt and before ``user`` (the chunk): with it the start of each call is the same,
    which the providers' prompt caches reuse. Untrusted like ``user``, never in ``system``.
    ``prompt_version`` is part of the cache key: bump it when the prompt text changes so
    old answers are not served for a new prompt. ``stream`` uses the provider's streaming
    transport (long answers do not hit idle timeouts); ``on_text`` sees each text delta
    (for progress only: when a stream breaks off and is retried, the deltas start again
    from the beginning; ``CompletionResult.text`` is the answer).
    """

    system: str
    user: str
    schema: type[BaseModel] | None = None
    shared: str = ""
    max_output_tokens: int = 4096
    temperature: float = 0.0
    task_id: str | None = None
    project_id: int | None = None
    installation_id: int | None = None
    cache: bool = True
    prompt_version: str = "1"
    stream: bool = False
    on_text: Callable[[str], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Usage:
    """Tokens of one call. ``input_tokens`` counts every prompt token, cached ones included;
    ``cached_tokens`` is the part the provider served from its prompt cache and
    ``cache_write_tokens`` the part it wrote to it (Anthropic bills writes above the input
    price)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@dataclass(frozen=True)
class CompletionResult:
    """The parsed answer (None when the request had no schema), its text and its cost.

    ``repairs`` lists what was done to make the answer valid (e.g. "stripped code fence",
    "cut after last complete item", "fix-up request"), so a summary can say so.
    """

    parsed: BaseModel | None
    text: str
    usage: Usage
    provider: str
    model: str
    latency_ms: int
    cost_usd: float
    cache_hit: bool
    repairs: tuple[str, ...] = ()
    truncated: bool = False  # the model stopped at the output limit; the answer is partial


# finish_reason / stop_reason of an answer cut at the output-token limit.
TRUNCATED_REASONS = frozenset({"length", "max_tokens"})


@dataclass(frozen=True)
class RateInfo:
    """What a provider's answer says of its limits (``x-ratelimit-*``, Anthropic's
    ``anthropic-ratelimit-*``): limits per minute, what remains, seconds until reset."""

    limit_requests: int | None = None
    limit_tokens: int | None = None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests_s: float | None = None
    reset_tokens_s: float | None = None


@dataclass(frozen=True)
class ProviderReply:
    """What a provider returns for one attempt, before validation."""

    text: str
    usage: Usage
    model: str
    finish_reason: str | None = None
    rate: RateInfo | None = None


@dataclass(frozen=True)
class ProviderCall:
    """What the service asks a provider for: messages plus the structured-output mechanism."""

    system: str
    user: str
    json_schema: dict[str, object] | None
    schema_name: str
    max_output_tokens: int
    temperature: float
    stream: bool = False
    on_text: Callable[[str], None] | None = None
    shared: str = ""  # sent between system and user: the review's cacheable common part


class LLMFailure(LLMError):
    """A call failed for good: every retry and fallback was used, or the answer stayed
    invalid after the repair attempt. ``reason`` is short and shown in the summary."""

    def __init__(self, reason: str, *, provider: str = "", model: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.provider = provider
        self.model = model


class InvalidOutput(LLMFailure):
    """The model answered, but not with valid JSON of the requested shape, even after repair."""


class TransientError(Exception):
    """An attempt failed in a way a retry may fix (429, 5xx, timeout, connection, cut stream).

    Raised by providers, consumed by the retry loop; never leaves the service.
    ``retry_after`` is the server's Retry-After in seconds, when it sent one.
    """

    def __init__(
        self, reason: str, *, retry_after: float | None = None, rate: RateInfo | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.rate = rate


class PermanentError(Exception):
    """An attempt failed in a way retrying the same call will not fix (400, 401, 404).

    ``unsupported_format`` says the provider refused the structured-output mechanism, so
    the caller can downgrade (json_schema -> json_object -> prompt) and try once more.
    """

    def __init__(self, reason: str, *, unsupported_format: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unsupported_format = unsupported_format
