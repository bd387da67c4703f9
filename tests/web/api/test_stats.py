"""Statistics checked against counts computed here, in Python, from the rows this test
created; once on SQLite and once on PostgreSQL (the day bucketing is per engine)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from tests.web.api.conftest import Api

SEVERITIES = ["critical", "high", "medium", "low", "info"]
CATEGORIES = ["security", "bug", "performance", "style"]
RULES = ["B602", "B608", None, "secrets"]
PATHS = ["a.py", "b/c.py", "d.js"]
MODELS = [("openai", "gpt-4o"), ("deepseek", "deepseek-chat"), ("gemini", "gemini-2.5-pro")]


def _seed(api: Api) -> dict[str, Any]:
    rnd = random.Random(7)
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    project = api.project("stats/one")
    other = api.project("stats/two")
    findings: list[dict[str, Any]] = []
    usages: list[dict[str, Any]] = []
    durations: list[float] = []
    statuses: list[str] = []
    for offset in [0, 1, 2, 3, 5, 40]:  # 40 days ago falls outside a 30-day window
        when = midnight - timedelta(days=offset) + timedelta(minutes=rnd.randint(1, 1400))
        when = min(when, datetime.now(UTC) - timedelta(seconds=1))
        for target in (project, other):
            status = rnd.choice(["succeeded", "failed", "cancelled"])
            took = rnd.randint(5, 600)
            task = api.task(target, kind=rnd.choice(["review", "push"]), status=status,
                            created_at=when, started_at=when,
                            finished_at=when + timedelta(seconds=took))
            if offset < 30:
                durations.append(took)
                statuses.append(status)
            for _ in range(rnd.randint(1, 6)):
                spec = {"severity": rnd.choice(SEVERITIES), "category": rnd.choice(CATEGORIES),
                        "rule_id": rnd.choice(RULES), "path": rnd.choice(PATHS)}
                api.finding(task, created_at=when, **spec)
                findings.append({**spec, "day": when.strftime("%Y-%m-%d"), "offset": offset,
                                 "project": target.id})
            for _ in range(rnd.randint(1, 4)):
                provider, model = rnd.choice(MODELS)
                spec2 = {"provider": provider, "model": model,
                         "input_tokens": rnd.randint(10, 5000),
                         "output_tokens": rnd.randint(1, 800),
                         "cost_usd": round(rnd.uniform(0, 0.2), 5),
                         "cache_hit": rnd.random() < 0.3}
                api.usage(target, created_at=when, **spec2)
                usages.append({**spec2, "day": when.strftime("%Y-%m-%d"), "offset": offset,
                               "project": target.id})
    return {"project": project, "findings": findings, "usages": usages,
            "durations": durations, "statuses": statuses}


def test_overall_statistics_match_the_rows(db_api: Api) -> None:
    api = db_api
    seeded = _seed(api)
    queue = redis.Redis.from_url(api.settings.redis_url)
    try:
        queue.zadd("arq:queue", {"job-a": 1, "job-b": 2, "job-c": 3})
    finally:
        queue.close()
    client = api.as_user(api.user(admin=True))
    answer = client.get("/api/v1/stats", params={"days": 30, "top": 3})
    assert answer.status_code == 200, answer.text
    stats = answer.json()
    recent = [f for f in seeded["findings"] if f["offset"] < 30]
    assert stats["findings"]["total"] == len(recent)
    assert stats["findings"]["by_severity"] == dict(Counter(f["severity"] for f in recent))
    assert stats["findings"]["by_category"] == dict(Counter(f["category"] for f in recent))
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for f in recent:
        per_day[f["day"]][f["severity"]] += 1
    assert {d["day"]: d["by_severity"] for d in stats["findings"]["per_day"]} == {
        day: dict(c) for day, c in per_day.items()}
    rules = Counter(f["rule_id"] or "llm:openai/gpt-4o" for f in recent)
    top = stats["findings"]["top_rules"]
    assert len(top) == 3
    assert [r["count"] for r in top] == sorted((n for n in rules.values()), reverse=True)[:3]
    assert all(rules[r["rule"]] == r["count"] for r in top)
    files = Counter((f["project"], f["path"]) for f in recent)
    assert all(files[(r["project_id"], r["path"])] == r["count"]
               for r in stats["findings"]["top_files"])

    used = [u for u in seeded["usages"] if u["offset"] < 30]
    llm = stats["llm"]
    assert llm["totals"]["calls"] == len(used)
    assert llm["totals"]["input_tokens"] == sum(u["input_tokens"] for u in used)
    assert llm["totals"]["cost_usd"] == pytest.approx(sum(u["cost_usd"] for u in used), abs=1e-5)
    hits = sum(u["cache_hit"] for u in used)
    assert llm["cache_hit_rate"] == pytest.approx(hits / len(used))
    cost_per_day: dict[str, float] = defaultdict(float)
    for u in used:
        cost_per_day[u["day"]] += u["cost_usd"]
    assert {d["day"]: d["cost_usd"] for d in llm["per_day"]} == pytest.approx(cost_per_day,
                                                                              abs=1e-5)
    by_model = Counter((u["provider"], u["model"]) for u in used)
    assert {(m["provider"], m["model"]): m["calls"] for m in llm["by_model"]} == dict(by_model)

    tasks = stats["tasks"]
    assert tasks["total"] == len(seeded["statuses"])
    assert tasks["by_status"] == dict(Counter(seeded["statuses"]))
    spans = sorted(seeded["durations"])
    assert tasks["duration_s"]["count"] == len(spans)
    assert tasks["duration_s"]["mean"] == pytest.approx(sum(spans) / len(spans), abs=1e-3)
    assert tasks["duration_s"]["max"] == spans[-1]
    assert stats["queue_depth"] == 3


def test_project_statistics_and_usage_against_budget(db_api: Api) -> None:
    api = db_api
    seeded = _seed(api)
    project = seeded["project"]
    client = api.as_user(api.user(admin=True))
    client.patch(f"/api/v1/projects/{project.id}", json={"budget_monthly_usd": 4.0})
    stats = client.get(f"/api/v1/projects/{project.id}/stats", params={"days": 7}).json()
    week = [f for f in seeded["findings"] if f["offset"] < 7 and f["project"] == project.id]
    assert stats["project_id"] == project.id
    assert stats["findings"]["by_severity"] == dict(Counter(f["severity"] for f in week))
    usage = client.get("/api/v1/usage").json()
    line = next(p for p in usage["projects"] if p["id"] == project.id)
    month_start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spent = sum(
        u["cost_usd"] for u in seeded["usages"]
        if u["project"] == project.id and u["day"] >= month_start.strftime("%Y-%m-%d")
    )
    assert line["month_cost_usd"] == pytest.approx(spent, abs=1e-5)
    assert line["budget_usd"] == 4.0
    assert line["remaining_usd"] == pytest.approx(max(0.0, 4.0 - spent), abs=1e-5)
