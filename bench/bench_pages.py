"""Page latency with a million findings in PostgreSQL.

Loads a fresh database (20 projects, 40,000 audits, 1,000,000 findings, 80,000 model calls,
triage history) with COPY, starts `auditbot serve` on it with its own Redis on a free port,
logs in through the login form as an administrator and as a member of 5 projects, then asks
each page (the dashboard, with its 30-day chart recomputed on every request and as kept
for a minute, a project's findings with and without filters and 10 pages deep, reports
small and large) REQUESTS times in a row and prints p50, p95 and max per page.

    .venv/bin/python bench/bench_pages.py [--findings 1000000] [--requests 200] [--keep]

Needs PostgreSQL at TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres)
and `redis-server` on the PATH. Goal: p95 under 100 ms for every page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import redis

from bot.store.migrate import upgrade
from bot.web.auth import hash_password

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench password 1"
SEVERITIES = ["critical", "high", "medium", "low", "info"]
SEVERITY_WEIGHTS = [2, 10, 30, 40, 18]
CATEGORIES = ["security", "bug", "performance", "maintainability", "style", "other"]
STATES = ["open", "confirmed", "false_positive", "wont_fix", "fixed"]
STATE_WEIGHTS = [85, 5, 5, 3, 2]
PROJECTS = 20
TASKS_PER_PROJECT = 2000
BIG_TASK_FINDINGS = 5000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def load(url: str, findings_total: int) -> dict[str, object]:
    """Fill the database; returns the ids the measurements use."""
    rng = random.Random(19)
    connection = await asyncpg.connect(url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    try:
        pw = hash_password(PASSWORD)
        await connection.copy_records_to_table(
            "users", columns=["id", "email", "password_hash", "is_admin", "is_active",
                              "failed_logins", "created_at"],
            records=[(1, "admin@bench.example", pw, True, True, 0, now),
                     (2, "member@bench.example", pw, False, True, 0, now)])
        await connection.copy_records_to_table(
            "projects", columns=["id", "kind", "external_id", "full_name", "default_branch",
                                 "private", "enabled", "settings", "created_at", "updated_at"],
            records=[(p, "github", 1000 + p, f"bench/repo-{p:02d}", "main", True, True, "{}",
                      now, now) for p in range(1, PROJECTS + 1)])
        await connection.copy_records_to_table(
            "project_members", columns=["user_id", "project_id", "role", "created_at"],
            records=[(2, p, "member", now) for p in range(1, 6)])
        tasks = []
        per_task = max(1, findings_total // (PROJECTS * TASKS_PER_PROJECT))
        for p in range(1, PROJECTS + 1):
            for n in range(TASKS_PER_PROJECT):
                created = now - timedelta(days=365 * n / TASKS_PER_PROJECT,
                                          minutes=rng.randint(0, 600))
                counts = {s: rng.randint(0, per_task // 2) for s in SEVERITIES}
                tasks.append((uuid.uuid4().hex, p, "review", "succeeded", "webhook",
                              n % 500 + 1, "main", f"feature-{n}", "b" * 40, f"{n:040x}",
                              "{}", json.dumps(counts), per_task, 0, 0, 0, 0.01,
                              "openai/gpt-4o", "success", 1, created, created, created,
                              created))
        await connection.copy_records_to_table(
            "audit_tasks", columns=[
                "id", "project_id", "kind", "status", "trigger", "pr_number", "base_ref",
                "head_ref", "base_sha", "head_sha", "progress", "counts", "findings_count",
                "input_tokens", "output_tokens", "cached_tokens", "cost_usd", "model",
                "conclusion", "attempts", "created_at", "started_at", "finished_at",
                "updated_at"],
            records=tasks)
        big_task = tasks[0][0]  # the newest audit of project 1: a full scan's worth
        rows = []
        fid = 0
        for index, task in enumerate(tasks):
            count = BIG_TASK_FINDINGS if index == 0 else per_task
            for k in range(count):
                fid += 1
                path = f"src/module{rng.randint(0, 499):03d}/file{rng.randint(0, 9)}.py"
                fingerprint = f"{task[1]:02d}{rng.getrandbits(120):030x}"
                state = rng.choices(STATES, STATE_WEIGHTS)[0]
                rows.append((fid, task[1], task[0], task[5], path, 10 + k, 12 + k, "new",
                             rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0],
                             rng.choice(CATEGORIES), "CWE-78", f"Finding {fid}",
                             "A message long enough to look like one a model writes. " * 3,
                             None, "os.system(cmd)", 0.8, "static:rules", "py.rule",
                             fingerprint, state, "inline", task[9], task[9], task[20],
                             task[20]))
                if len(rows) >= 50_000:
                    await _copy_findings(connection, rows)
                    rows = []
            if fid >= findings_total + BIG_TASK_FINDINGS:
                break
        if rows:
            await _copy_findings(connection, rows)
        usage = [(t[1], t[0], "openai", "gpt-4o", 1000, 200, 0, 0.005, 800, False, True,
                  t[20]) for t in tasks for _ in range(2)]
        await connection.copy_records_to_table(
            "llm_usage", columns=["project_id", "task_id", "provider", "model", "input_tokens",
                                  "output_tokens", "cached_tokens", "cost_usd", "latency_ms",
                                  "cache_hit", "ok", "created_at"], records=usage)
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('findings', 'id'), $1)", fid)
        await connection.execute("ANALYZE")
        total = await connection.fetchval("SELECT count(*) FROM findings")
    finally:
        await connection.close()
    print(f"loaded {total:,} findings, {len(tasks):,} audits, {len(usage):,} model calls "
          f"in {time.perf_counter() - started:.0f} s")
    return {"big_task": big_task, "small_task": tasks[1][0], "findings": total}


async def _copy_findings(connection: asyncpg.Connection, rows: list[tuple[object, ...]]) -> None:
    await connection.copy_records_to_table(
        "findings", columns=[
            "id", "project_id", "task_id", "pr_number", "path", "start_line", "end_line",
            "side", "severity", "category", "cwe", "title", "message", "suggestion", "quote",
            "confidence", "source", "rule_id", "fingerprint", "status", "placement",
            "first_seen_sha", "last_seen_sha", "created_at", "updated_at"],
        records=rows)


def login(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30, headers={"Accept": "text/html"})
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text[:500]
    answer = client.post("/login", data={"csrf": token.group(1), "email": email,
                                         "password": PASSWORD, "next": "/"})
    assert answer.status_code == 303, answer.text[:500]
    return client


def deep_link(client: httpx.Client, path: str, pages: int) -> str:
    for _ in range(pages):
        html = client.get(path).text.split('id="findings"', 1)[1]
        found = re.search(r'<a href="([^"]+)" rel="next">', html)
        assert found, "no next page"
        path = path.split("?")[0] + found.group(1).replace("&amp;", "&").split("#")[0]
    return path


def measure(client: httpx.Client, path: str, requests: int,
            before: Callable[[], object] | None = None) -> list[float]:
    client.get(path)  # warm the connection and the server's caches of templates
    times = []
    for _ in range(requests):
        if before is not None:
            before()
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    name = f"auditbot_bench_pages_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base_url = ADMIN_URL.rsplit("/", 1)[0]
    database = f"{base_url}/{name}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    redis_port, web_port = free_port(), free_port()
    redis_proc = server = None
    try:
        upgrade(database.replace("postgresql://", "postgresql+asyncpg://", 1))
        ids = asyncio.run(load(database, args.findings))
        redis_proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(redis_port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
            stdout=subprocess.DEVNULL)
        env = {**os.environ, "DATABASE_URL": database, "PORT": str(web_port),
               "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "LOG_LEVEL": "WARNING",
               "JWT_SECRET": "bench-" + "x" * 40, "DATA_DIR": str(workdir)}
        server = subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env)
        base = f"http://127.0.0.1:{web_port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        admin_client = login(base, "admin@bench.example")
        member = login(base, "member@bench.example")
        cache = redis.Redis(port=redis_port)

        def forget_chart() -> None:
            keys = cache.keys("auditbot:web:chart:*")
            if keys:
                cache.delete(*keys)

        pages: dict[str, tuple[httpx.Client, str, Callable[[], object] | None]] = {
            "dashboard (admin), chart recomputed": (admin_client, "/", forget_chart),
            "dashboard (admin, 20 projects)": (admin_client, "/", None),
            "dashboard (member of 5)": (member, "/", None),
            "project: open findings": (admin_client, "/projects/1", None),
            "project: severity=critical": (admin_client, "/projects/1?severity=critical", None),
            "project: category+state": (admin_client,
                                        "/projects/1?category=bug&state=false_positive", None),
            "project: path folder": (admin_client, "/projects/1?path=src/module042/", None),
            "project: 10 pages deep": (admin_client,
                                       deep_link(admin_client, "/projects/1", 10), None),
            "report: 25 findings": (admin_client, f"/reports/{ids['small_task']}", None),
            "report: 5,000 findings, page 1": (admin_client, f"/reports/{ids['big_task']}",
                                               None),
            "report: 5,000 findings, page 60": (admin_client,
                                                f"/reports/{ids['big_task']}?page=60", None),
            "report: filtered by state": (member, f"/reports/{ids['big_task']}?state=wont_fix",
                                          None),
        }
        print(f"{'page':38} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        worst = 0.0
        for label, (client, path, before) in pages.items():
            times = measure(client, path, args.requests, before)
            p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
            worst = max(worst, p95)
            print(f"{label:38} {statistics.median(times):8.1f} {p95:8.1f} {max(times):8.1f}")
        print(f"findings in the database: {ids['findings']:,}; requests per page: "
              f"{args.requests}; worst p95 {worst:.1f} ms; goal p95 < 100 ms: "
              f"{'met' if worst < 100 else 'MISSED'}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
