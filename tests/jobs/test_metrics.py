"""The workers' figures: job outcomes as the retry policy and arq leave them, the queue as
Redis holds it, model usage, and the exporter that serves them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from arq import Retry
from arq.constants import in_progress_key_prefix
from prometheus_client import REGISTRY
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot.findings import Category, Finding, Severity
from bot.jobs.contracts import QUEUE_NAME
from bot.jobs.deps import JobDeps
from bot.jobs.metrics import Exporter, QueueCollector, count_findings, measured
from bot.llm import metrics as llm_metrics
from bot.llm.usage import UsageRecord
from tests.fakes.fake_github import FakeGitHub
from tests.jobs.test_retry import ctx, registered
from tests.jobs.test_review_job import payload, prepare
from tests.support.servers import free_port


def jobs(function: str, outcome: str) -> float:
    labels = {"function": function, "outcome": outcome}
    return REGISTRY.get_sample_value("auditbot_jobs_total", labels) or 0.0


@pytest.mark.parametrize(
    ("result", "outcome"),
    [("failed", "failed"), ("skipped", "skipped"), ("cancelled", "cancelled"),
     ("answered", "succeeded"), (None, "succeeded")],
)
async def test_a_job_is_counted_by_what_it_returned(result: Any, outcome: str) -> None:
    async def some_job(ctx: dict[str, Any]) -> Any:
        return result

    before = jobs("some_job", outcome)
    assert await measured(some_job)({}) == result
    assert jobs("some_job", outcome) == before + 1


@pytest.mark.parametrize(
    ("raised", "outcome"),
    [(Retry(defer=1), "retried"), (ValueError("bug"), "error"),
     (asyncio.CancelledError(), "interrupted")],
    ids=["retry", "bug", "cancelled"],
)
async def test_a_job_that_raises_is_counted(raised: BaseException, outcome: str) -> None:
    async def other_job(ctx: dict[str, Any]) -> None:
        raise raised

    before = jobs("other_job", outcome)
    count = REGISTRY.get_sample_value(
        "auditbot_job_duration_seconds_count", {"function": "other_job"}
    ) or 0.0
    with pytest.raises(type(raised)):
        await measured(other_job)({})
    assert jobs("other_job", outcome) == before + 1
    assert REGISTRY.get_sample_value(
        "auditbot_job_duration_seconds_count", {"function": "other_job"}
    ) == count + 1


def test_the_queue_is_read_from_redis_at_each_scrape(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    now_ms = time.time() * 1000
    # arq scores a job by when it may run: one waiting 30 s, one deferred for a retry.
    redis.zadd(QUEUE_NAME, {"running": now_ms - 30_000, "waiting": now_ms - 10_000,
                            "deferred": now_ms + 60_000})
    redis.set(in_progress_key_prefix + "running", b"1", px=60_000)  # as a worker running it
    try:
        figures = {f.name: f.samples[0].value for f in QueueCollector(redis).collect()}
    finally:
        redis.close()
    assert figures["auditbot_queue_depth"] == 3
    assert 29 <= figures["auditbot_queue_oldest_job_age_seconds"] < 40
    assert figures["auditbot_queue_in_progress"] == 1


def test_an_empty_queue_has_no_age(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        figures = {f.name: f.samples[0].value for f in QueueCollector(redis).collect()}
    finally:
        redis.close()
    assert figures == {"auditbot_queue_depth": 0, "auditbot_queue_oldest_job_age_seconds": 0,
                       "auditbot_queue_in_progress": 0}


def test_a_redis_that_does_not_answer_leaves_the_queue_figures_out() -> None:
    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        assert list(QueueCollector(redis).collect()) == []
    finally:
        redis.close()


def test_model_usage_is_counted_by_provider_and_model() -> None:
    labels = {"provider": "deepseek", "model": "deepseek-chat"}

    def sample(name: str, **extra: str) -> float:
        return REGISTRY.get_sample_value(name, {**labels, **extra}) or 0.0

    record = UsageRecord(
        provider="deepseek", model="deepseek-chat", input_tokens=1200, output_tokens=300,
        cached_tokens=200, cost_usd=0.25, latency_ms=900, cache_hit=False, ok=True,
    )
    llm_metrics.observe(record)
    llm_metrics.observe(
        UsageRecord(provider="deepseek", model="deepseek-chat", input_tokens=0,
                    output_tokens=0, cached_tokens=0, cost_usd=0.0, latency_ms=1,
                    cache_hit=True, ok=True)
    )
    assert sample("auditbot_llm_calls_total", outcome="ok") == 1
    assert sample("auditbot_llm_calls_total", outcome="cache_hit") == 1
    assert sample("auditbot_llm_tokens_total", kind="input") == 1200
    assert sample("auditbot_llm_tokens_total", kind="output") == 300
    assert sample("auditbot_llm_tokens_total", kind="cached") == 200
    assert sample("auditbot_llm_cost_usd_total") == 0.25


def test_the_exporter_serves_and_a_taken_port_is_refused(redis_url: str) -> None:
    exporter = Exporter(redis_url, "127.0.0.1", free_port())
    try:
        text = httpx.get(f"http://127.0.0.1:{exporter.port}/metrics", timeout=5).text
        assert "auditbot_queue_depth 0.0" in text
        assert "auditbot_jobs_total" in text
        with pytest.raises(OSError, match="in use"):
            Exporter(redis_url, "127.0.0.1", exporter.port)
    finally:
        exporter.close()


def findings_total() -> float:
    return sum(
        REGISTRY.get_sample_value("auditbot_findings_total", {"severity": s.value}) or 0.0
        for s in Severity
    )


async def test_a_review_run_again_after_a_retry_counts_its_findings_once(
    deps: JobDeps, fake_github: FakeGitHub
) -> None:
    """The pipeline ran and its findings were counted, then publishing had to wait (a 502
    posting the summary comment): arq runs the job again, the pipeline finds the same
    findings, and they must not count twice."""
    prepare(fake_github)
    review = registered("review_pull_request")
    before = findings_total()
    fake_github.inject("POST", r"/issues/5/comments$", 502)
    with pytest.raises(Retry):
        await review(ctx(deps, "r:counted"), payload())
    counted = findings_total() - before
    assert counted >= 1
    assert await review(ctx(deps, "r:counted", 2), payload()) == "succeeded"
    assert [r["conclusion"] for r in fake_github.check_runs.values()] == ["failure"]
    assert findings_total() - before == counted


async def test_findings_count_once_per_task_and_head(redis_url: str) -> None:
    finding = Finding(path="a.py", start_line=1, end_line=1, severity=Severity.HIGH,
                      category=Category.SECURITY, title="t", message="m", source="test")
    redis = AsyncRedis.from_url(redis_url)
    try:
        before = findings_total()
        assert await count_findings(redis, task_id="t-1", head_sha="a" * 40, findings=[finding])
        assert not await count_findings(redis, task_id="t-1", head_sha="a" * 40,
                                        findings=[finding])
        assert await count_findings(redis, task_id="t-2", head_sha="a" * 40, findings=[finding])
        assert findings_total() - before == 2
    finally:
        await redis.aclose()
