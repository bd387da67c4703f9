"""Statistics checked against counts computed here, in Python, from the rows this test
created; once on SQLite and once on PostgreSQL (the day bucketing is per engine)."""

from __future__ import annotations

import random
import statistics
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
    tasks: list[dict[str, Any]] = []
    for offset in [0, 1, 2, 3, 5, 40]:  # 40 days ago falls outside a 30-day window
        when = midnight - timedelta(days=offset) + timedelta(minutes=rnd.randint(1, 1400))
        when = min(when, datetime.now(UTC) - timedelta(seconds=1))
        for target in (project, other):
            status = rnd.choice(["succeeded", "failed", "cancelled"])
            kind = rnd.choice(["review", "push"])
            took = rnd.randint(5, 600)
            task = api.task(target, kind=kind, status=status,
                            created_at=when, started_at=when,
                            finished_at=when + timedelta(seconds=took))
            tasks.append({"status": status, "kind": kind, "took": took, "offset": offset,
                          "project": target.id})
            for _ in range(rnd.randint(1, 6)):
                spec = {"severity": rnd.choice(SEVERITIES), "category": rnd.choice(CATEGORIES),
                        "rule_id": rnd.choice(RULES), "path": rnd.choice(PATHS),
                        "status": rnd.choice(["open", "open", "fixed", "false_positive"])}
                api.finding(task, created_at=when, **spec)
                findings.append({**spec, "day": when.strftime("%Y-%m-%d"), "offset": offset,
                                 "project": target.id})
            for _ in range(rnd.randint(1, 4)):
                provider, model = rnd.choice(MODELS)
                spec2 = {"provider": provider, "model": model,
                         "input_tokens": rnd.randint(10, 5000),
                         "output_tokens": rnd.randint(1, 800),
                         "cached_tokens": rnd.randint(0, 300),
                         "cost_usd": round(rnd.uniform(0, 0.2), 5),
                         "cache_hit": rnd.random() < 0.3}
                api.usage(target, created_at=when, **spec2)
                usages.append({**spec2, "day": when.strftime("%Y-%m-%d"), "offset": offset,
                               "project": target.id})
    return {"project": project, "findings": findings, "usages": usages, "tasks": tasks}


def _usage_numbers(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the API reports for a group of usage rows, summed here in Python."""
    return {"calls": len(rows),
            "input_tokens": sum(u["input_tokens"] for u in rows),
            "output_tokens": sum(u["output_tokens"] for u in rows),
            "cached_tokens": sum(u["cached_tokens"] for u in rows),
            "cost_usd": pytest.approx(sum(u["cost_usd"] for u in rows), abs=1e-5),
            "cache_hits": sum(u["cache_hit"] for u in rows)}


def _check_findings(stats: dict[str, Any], rows: list[dict[str, Any]], top: int) -> None:
    assert stats["total"] == len(rows)
    assert stats["by_severity"] == dict(Counter(f["severity"] for f in rows))
    assert stats["by_category"] == dict(Counter(f["category"] for f in rows))
    assert stats["by_status"] == dict(Counter(f["status"] for f in rows))
    per_day: dict[str, dict[str, Counter[str]]] = defaultdict(
        lambda: {"by_severity": Counter(), "by_category": Counter()})
    for f in rows:
        per_day[f["day"]]["by_severity"][f["severity"]] += 1
        per_day[f["day"]]["by_category"][f["category"]] += 1
    assert [d["day"] for d in stats["per_day"]] == sorted(per_day)
    assert {d["day"]: (d["by_severity"], d["by_category"]) for d in stats["per_day"]} == {
        day: (dict(c["by_severity"]), dict(c["by_category"])) for day, c in per_day.items()}
    # A finding without a rule id counts under its source (every seeded one is the LLM's).
    rules = Counter(f["rule_id"] or "llm:openai/gpt-4o" for f in rows)
    top_rules = stats["top_rules"]
    assert len(top_rules) == min(top, len(rules))
    assert [r["count"] for r in top_rules] == sorted(rules.values(), reverse=True)[:top]
    assert all(rules[r["rule"]] == r["count"] for r in top_rules)
    files = Counter((f["project"], f["path"]) for f in rows)
    top_files = stats["top_files"]
    assert len(top_files) == min(top, len(files))
    assert [r["count"] for r in top_files] == sorted(files.values(), reverse=True)[:top]
    assert all(files[(r["project_id"], r["path"])] == r["count"] for r in top_files)


def _check_llm(stats: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    assert stats["totals"] == _usage_numbers(rows)
    assert stats["cache_hit_rate"] == pytest.approx(sum(u["cache_hit"] for u in rows) / len(rows))
    per_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_model: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for u in rows:
        per_day[u["day"]].append(u)
        by_model[(u["provider"], u["model"])].append(u)
    assert stats["per_day"] == [{"day": day, **_usage_numbers(per_day[day])}
                                for day in sorted(per_day)]
    assert stats["by_model"] == [{"provider": p, "model": m, **_usage_numbers(by_model[(p, m)])}
                                 for p, m in sorted(by_model)]


def _check_tasks(stats: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    assert stats["total"] == len(rows)
    assert stats["by_status"] == dict(Counter(t["status"] for t in rows))
    assert stats["by_kind"] == dict(Counter(t["kind"] for t in rows))
    spans = sorted(t["took"] for t in rows)
    assert stats["duration_s"] == {
        "count": len(spans),
        "mean": pytest.approx(sum(spans) / len(spans), abs=1e-3),
        "p50": pytest.approx(statistics.median(spans), abs=1e-3),
        # Nearest rank: the value 95 % of the way through the sorted durations.
        "p95": spans[round(0.95 * (len(spans) - 1))],
        "max": spans[-1],
    }


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
    _check_findings(stats["findings"], [f for f in seeded["findings"] if f["offset"] < 30], 3)
    _check_llm(stats["llm"], [u for u in seeded["usages"] if u["offset"] < 30])
    _check_tasks(stats["tasks"], [t for t in seeded["tasks"] if t["offset"] < 30])
    assert stats["queue_depth"] == 3


def test_project_statistics_and_usage_against_budget(db_api: Api) -> None:
    api = db_api
    seeded = _seed(api)
    project = seeded["project"]
    client = api.as_user(api.user(admin=True))
    client.patch(f"/api/v1/projects/{project.id}", json={"budget_monthly_usd": 4.0})
    stats = client.get(f"/api/v1/projects/{project.id}/stats", params={"days": 7}).json()
    assert stats["project_id"] == project.id

    def week(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rows if r["offset"] < 7 and r["project"] == project.id]

    _check_findings(stats["findings"], week(seeded["findings"]), 10)
    _check_llm(stats["llm"], week(seeded["usages"]))
    _check_tasks(stats["tasks"], week(seeded["tasks"]))
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
