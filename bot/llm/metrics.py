"""Model calls for Prometheus, by provider and model: calls by outcome (``ok``,
``error``, ``cache_hit``), tokens by kind, and their cost. Fed from every usage record the
LLM service emits, so the figures match the stored usage rows."""

from __future__ import annotations

from prometheus_client import Counter

from bot.llm.usage import UsageRecord

CALLS = Counter(
    "auditbot_llm_calls_total",
    "Model calls by provider, model and outcome (ok, error, cache_hit)",
    ["provider", "model", "outcome"],
)
TOKENS = Counter(
    "auditbot_llm_tokens_total",
    "Tokens by provider, model and kind (input, output, cached: the part of input read "
    "from the provider's prompt cache)",
    ["provider", "model", "kind"],
)
COST = Counter(
    "auditbot_llm_cost_usd_total", "Cost of model calls in US dollars", ["provider", "model"]
)


def observe(record: UsageRecord) -> None:
    """Count one usage record."""
    labels = (record.provider, record.model)
    outcome = "cache_hit" if record.cache_hit else "ok" if record.ok else "error"
    CALLS.labels(*labels, outcome).inc()
    for kind, tokens in (
        ("input", record.input_tokens),
        ("output", record.output_tokens),
        ("cached", record.cached_tokens),
    ):
        if tokens:
            TOKENS.labels(*labels, kind).inc(tokens)
    if record.cost_usd:
        COST.labels(*labels).inc(record.cost_usd)
