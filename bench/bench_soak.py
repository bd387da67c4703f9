"""Soak under faults (issue 17): auditbot run as a production install would be, for a bounded
time, while things fail around it; then checks that nothing was lost or left open.

Real processes: `auditbot serve` and two `auditbot worker`s (``bench/soak_stack.py``), a
redis-server of its own with ``appendonly yes`` on a spare port, a PostgreSQL database of its
own on the shared server (TEST_POSTGRES_URL, default postgres@127.0.0.1:5432), the fake
GitHub of the tests and the scripted OpenAI-compatible model of the economy benchmark, on
loopback. Three repositories with one pull request each; a seeded stream of pushes (new
heads), ``/audit`` comments, repeated deliveries and five concurrent copies of a delivery
(``bench/soak_traffic.py``). The fake GitHub is the sender: it never re-sends a delivery
that failed (503 during the outage) unless auditbot asks (GET /app/hook/deliveries,
POST .../attempts), as GitHub does.

Faults (``bench/soak_faults.py``, drawn from ``--seed``): worker 1 SIGKILLed twice and
started again 2 s later; Redis stopped and started again once, down 10-30 s; the model
answers 15 % of calls with a 500 and 10 % with text that is no JSON; GitHub answers 4 % of
calls with 502 and 2 % of its writes with a secondary rate limit (403, ``retry-after: 3``).
The random faults stop when the stream ends: that is "the last fault".

Checked at the end (``bench/soak_checks.py``), exit status 1 if any fails: every delivery
accepted (directly or through a redelivery); every check run concluded within 2 minutes of
the last fault; the newest head of every pull request has a concluded check run; no
duplicate comment; no task left queued or running; no process exited on its own; no 5xx
but 503 during the outage. Printed too: the resident memory of the web process and each
worker at start and end, and its growth (minute 10 -> 30 of a ``--minutes 30`` run,
extrapolated per hour).

    .venv/bin/python bench/bench_soak.py [--seed 1] [--minutes 5] [--settle 6]
        [--job-timeout S] [--worker-max-jobs N] [--keep]

auditbot runs at its default settings (JOB_TIMEOUT_S 900, JOB_LEASE_S 30) unless
``--job-timeout`` sets JOB_TIMEOUT_S.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import soak_checks as checks
from bench.economy_model import scripted_model
from bench.economy_stack import APP_ID, SECRET, RedisServer, app_keys, auditbot_env
from bench.soak_faults import ModelFaults, Schedule
from bench.soak_stack import CheckWatch, Fleet, MemorySampler, active_tasks, postgres_database
from bench.soak_traffic import Traffic
from bot.store.migrate import upgrade
from tests.fakes.fake_github import FakeGitHub
from tests.support.servers import serve_in_thread

MODEL_FAULTS = {"500": 0.15, "invalid_json": 0.10}
MODEL_DELAY_S = 0.3
# 502s on any call, secondary limits (403, retry-after: 3) on writes: the fake's Faults.
GITHUB_FAULTS = {"bad_gateway": 0.04, "secondary": 0.02, "retry_after": 3}


def _faults(fleet: Fleet, redis: RedisServer, schedule: Schedule, t0: float,
            log: list[str]) -> None:
    """Play the schedule (a thread of its own): kills and the Redis outage."""
    steps = sorted([(at, "kill") for at in schedule.kills] + [(schedule.redis_down, "down"),
                                                             (schedule.redis_up, "up")])
    for at, what in steps:
        time.sleep(max(0.0, t0 + at - time.time()))
        log.append(f"{time.time() - t0:6.1f} s  {what}")
        if what == "kill":
            fleet.kill("worker-1")
        elif what == "down":
            redis.stop()
        else:
            redis.start()


def _settled(traffic: Traffic, watch: CheckWatch, database: str) -> bool:
    accepted = {a.guid for a in traffic.hook.attempts if 200 <= a.status_code < 300}
    watch.look()
    open_checks = any(r["status"] != "completed" for r in traffic.github.check_runs.values())
    return (all(s.guid in accepted for s in traffic.sent) and not open_checks
            and not active_tasks(database))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the stream")
    parser.add_argument("--settle", type=float, default=6.0,
                        help="minutes to wait after the stream for everything to finish")
    parser.add_argument("--job-timeout", type=int, default=None,
                        help="JOB_TIMEOUT_S, s (default: the product's own, 900)")
    parser.add_argument("--worker-max-jobs", type=int, default=None,
                        help="WORKER_MAX_JOBS (default: the product's own, 0: no cap); a "
                             "worker's clean exit after it is restarted and not a failure")
    parser.add_argument("--keep", action="store_true", help="keep the folder with the logs")
    args = parser.parse_args()
    if args.minutes < 3:
        # Shorter, and the fixed fault windows overlap: a worker restarted during the
        # outage shows the start-up check rather than a running worker riding it out.
        parser.error("--minutes must be at least 3")
    # `timeout` or a CI runner ends us with SIGTERM: unwind, so no auditbot process, Redis
    # or database is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rng = random.Random(args.seed)
    duration = args.minutes * 60
    schedule = Schedule.draw(rng, duration)
    tmp = tempfile.mkdtemp(prefix="bench-soak-") if args.keep else None
    with ExitStack() as stack:
        root = Path(tmp or stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-soak-")))
        redis = RedisServer(root / "redis", appendonly=True)
        redis.start()
        stack.callback(redis.stop)
        database = stack.enter_context(postgres_database())
        upgrade(database)
        private, public = app_keys()
        github = FakeGitHub(app_id=APP_ID, public_key_pem=public)
        # The stream compresses hours of a real team's pushes into minutes: at ~3 calls a
        # second it would spend an installation's 5,000 requests an hour in 30 minutes, and
        # auditbot then rightly waits for the hour's reset. Quotas are not what is soaked.
        github.rate_remaining = 10_000_000
        github_faults = github.set_faults(seed=args.seed, **GITHUB_FAULTS)
        github_url = stack.enter_context(serve_in_thread(github.app))
        model = scripted_model(MODEL_DELAY_S)
        model.script = faults = ModelFaults(MODEL_FAULTS, seed=args.seed)
        model_url = stack.enter_context(serve_in_thread(model.app))
        extra = {"LOG_LEVEL": "INFO"}
        if args.job_timeout is not None:
            extra["JOB_TIMEOUT_S"] = str(args.job_timeout)
        if args.worker_max_jobs is not None:
            extra["WORKER_MAX_JOBS"] = str(args.worker_max_jobs)
        env = auditbot_env(root, database=database, redis_url=redis.url, private_key=private,
                           github_url=github_url, model_url=model_url, provider="openai",
                           extra=extra)
        fleet = Fleet(env, root)
        hook = github.send_hooks_to("", SECRET)  # the URL is known once the web answers
        traffic = Traffic(github, hook, root, rng)
        stack.callback(traffic.close)
        fleet.start()
        stack.callback(fleet.stop)
        hook.url = f"{fleet.web_url}/webhooks/github"
        watch = CheckWatch(github)
        memory = MemorySampler(fleet)
        timeout = env.get("JOB_TIMEOUT_S", "900 (default)")
        lease = env.get("JOB_LEASE_S", "30 (default)")
        cap = env.get("WORKER_MAX_JOBS", "0 (default)")
        print(f"soak: seed {args.seed}, {args.minutes:g} min, PostgreSQL, Redis AOF on port "
              f"{redis.port}, 2 workers, JOB_TIMEOUT_S={timeout}, JOB_LEASE_S={lease}, "
              f"WORKER_MAX_JOBS={cap}; logs in {root}")
        print(f"  kills of worker-1 at {schedule.kills[0]:.0f} s and {schedule.kills[1]:.0f} s; "
              f"Redis down {schedule.redis_down:.0f} s -> {schedule.redis_up:.0f} s", flush=True)
        t0 = time.time()
        played: list[str] = []
        player = threading.Thread(target=_faults, args=(fleet, redis, schedule, t0, played),
                                  daemon=True)
        player.start()
        traffic.open_all()
        while time.time() - t0 < duration:
            time.sleep(rng.uniform(2.0, 6.0))
            traffic.step()
        player.join()
        github_faults.bad_gateway = github_faults.secondary = 0.0
        faults.enabled = False
        last_fault = time.time()
        print(f"  stream ended at {last_fault - t0:.0f} s: {len(traffic.sent)} events "
              f"({traffic.copies} sent as 5 copies), {traffic.repeats} repeats; faults played: "
              f"GitHub {dict(github_faults.counts)}, model {dict(faults.counts)}", flush=True)
        deadline = last_fault + args.settle * 60
        while time.time() < deadline and not _settled(traffic, watch, database):
            time.sleep(2)
        print(f"  settled after {time.time() - last_fault:.0f} s "
              f"(bound {args.settle * 60:.0f} s)")
        watch.stop()
        memory.stop()
        outage = (t0 + schedule.redis_down, t0 + schedule.redis_up)
        results = [
            checks.deliveries_accepted(traffic.sent, hook.attempts),
            checks.checks_concluded(github, watch, last_fault),
            checks.newest_heads_concluded(github, traffic.pulls),
            checks.no_duplicates(github),
            checks.no_active_tasks(active_tasks(database)),
            checks.no_exits(fleet.exits, fleet.retirements),
            checks.no_server_errors(hook.attempts, outage),
        ]
        lines, memory_check = checks.memory(memory.samples, args.minutes)
        if memory_check is not None:
            results.append(memory_check)
        print("  faults: " + "; ".join(played))
        for result in results:
            print("\n".join(result.lines()))
        print("memory (resident):")
        print("\n".join(lines))
        failed = [r.name for r in results if not r.passed]
        print(f"soak {'FAILED: ' + '; '.join(failed) if failed else 'passed'}")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
