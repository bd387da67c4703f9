"""Every model call (and cache hit) is reported to a sink: the pipeline stores LLMUsage rows
(``bot.store.llm_usage``), the local review can keep them in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class UsageRecord:
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    latency_ms: int
    cache_hit: bool
    ok: bool
    error: str | None = None
    task_id: str | None = None
    project_id: int | None = None
    installation_id: int | None = None


class UsageSink(Protocol):
    async def record(self, record: UsageRecord) -> None: ...


class MemoryUsageSink:
    def __init__(self) -> None:
        self.records: list[UsageRecord] = []

    async def record(self, record: UsageRecord) -> None:
        self.records.append(record)

    @property
    def cost_usd(self) -> float:
        return sum(r.cost_usd for r in self.records)
