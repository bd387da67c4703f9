"""What the soak benchmark checks once the stream has ended and the system has had time to
settle, each as a line of its own: passed or failed, with the figures and the first few
offenders, and the memory figures of each process."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.soak_stack import WORKERS, CheckWatch, Exit
from bench.soak_traffic import Sent, SoakPull
from bot.forges.base import COMMENT_MARKER_PREFIX, REVIEW_MARKER_PREFIX, SUMMARY_MARKER
from tests.fakes.fake_github import FakeGitHub
from tests.fakes.github_hooks import Attempt

CONCLUDE_WITHIN_S = 120.0  # after the last fault (or the check run's creation, if later)
OUTAGE_SLACK_S = 10.0  # 503s a little after Redis is back: clients reconnect
VERDICTS = ("success", "failure", "neutral")
_FINDING = re.compile(re.escape(COMMENT_MARKER_PREFIX) + r"(\S+) -->")
_REVIEW = re.compile(re.escape(REVIEW_MARKER_PREFIX) + r"(\S+) -->")


@dataclass
class Check:
    name: str
    passed: bool
    detail: str
    offenders: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"  {'PASS' if self.passed else 'FAIL'}  {self.name}: {self.detail}"]
        out += [f"          {o}" for o in self.offenders[:6]]
        if len(self.offenders) > 6:
            out.append(f"          ... and {len(self.offenders) - 6} more")
        return out


def deliveries_accepted(sent: Sequence[Sent], attempts: Sequence[Attempt]) -> Check:
    by_guid: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        by_guid[attempt.guid].append(attempt)

    def ok(attempt: Attempt) -> bool:
        return 200 <= attempt.status_code < 300

    lost = [f"{s.guid} ({s.what} {s.pull}): answers "
            f"{[a.status_code for a in by_guid[s.guid]]}" for s in sent
            if not any(ok(a) for a in by_guid[s.guid])]
    refused = [s for s in sent if by_guid[s.guid] and not ok(by_guid[s.guid][0])]
    recovered = sum(1 for s in refused if any(ok(a) for a in by_guid[s.guid]))
    return Check("every delivery accepted", not lost,
                 f"{len(sent)} events, {len(attempts)} attempts; {len(refused)} refused at "
                 f"first, {recovered} of them accepted later (redelivered); {len(lost)} never "
                 f"accepted", lost)


def no_server_errors(attempts: Sequence[Attempt], outage: tuple[float, float]) -> Check:
    start, end = outage
    allowed = [a for a in attempts
               if a.status_code == 503 and start <= a.at <= end + OUTAGE_SLACK_S]
    bad = [f"{a.status_code or 'no answer'} at {a.at - start:+.1f} s from the outage "
           f"({a.guid})" for a in attempts
           if (a.status_code >= 500 or a.status_code == 0) and a not in allowed]
    slowest = max((a.seconds for a in attempts), default=0.0)
    return Check("no 5xx but 503 during the outage", not bad,
                 f"{len(allowed)} answers 503 during the outage, {len(bad)} other 5xx or "
                 f"none; slowest answer {slowest * 1000:.0f} ms", bad)


def checks_concluded(github: FakeGitHub, watch: CheckWatch, last_fault: float) -> Check:
    late = []
    times = []
    for check_id, run in sorted(github.check_runs.items()):
        created = watch.created.get(check_id, last_fault)
        deadline = max(last_fault, created) + CONCLUDE_WITHIN_S
        concluded = watch.concluded.get(check_id)
        if concluded is None:
            late.append(f"check {check_id} {run['repo']} {run['head_sha'][:8]} still "
                        f"{run['status']} ({run['output'].get('title')})")
        elif concluded > deadline:
            late.append(f"check {check_id} {run['repo']} {run['head_sha'][:8]} concluded "
                        f"{concluded - deadline:.0f} s after its deadline")
        if concluded is not None:
            times.append(concluded - created)
    conclusions = Counter(str(run.get("conclusion")) for run in github.check_runs.values())
    slowest = f"; slowest {max(times):.0f} s from creation" if times else ""
    return Check(f"every check run concluded within {CONCLUDE_WITHIN_S:.0f} s of the last fault",
                 not late, f"{len(github.check_runs)} check runs, conclusions "
                 f"{dict(sorted(conclusions.items()))}{slowest}", late)


def newest_heads_concluded(github: FakeGitHub, pulls: Sequence[SoakPull]) -> Check:
    missing = []
    for pull in pulls:
        head = pull.heads[-1]
        runs = [r for r in github.check_runs.values()
                if r["repo"] == pull.full_name and r["head_sha"] == head]
        if not any(r["status"] == "completed" and r.get("conclusion") in VERDICTS
                   for r in runs):
            seen = [(r["status"], r.get("conclusion"), r["output"].get("title")) for r in runs]
            missing.append(f"{pull.full_name}#{pull.number} head {head[:8]} "
                           f"({len(pull.heads)} heads): {seen or 'no check run'}")
    return Check("the newest head of every pull request has a concluded check run",
                 not missing, f"{len(pulls)} pull requests, "
                 f"{sum(len(p.heads) for p in pulls)} heads", missing)


def no_duplicates(github: FakeGitHub) -> Check:
    summaries: Counter[tuple[str, int]] = Counter()
    for comment in github.comments.values():
        if SUMMARY_MARKER in comment["payload"]["body"]:
            summaries[(comment["repo"], comment["number"])] += 1
    findings: Counter[tuple[str, int, str]] = Counter()
    for stored in github.review_comments.values():
        payload = stored["payload"]
        found = _FINDING.search(payload["body"])
        if found and "in_reply_to_id" not in payload:
            findings[(stored["repo"], stored["number"], found.group(1))] += 1
    reviews: Counter[tuple[str, int, str]] = Counter()
    for (repo, number), stored_reviews in github.reviews.items():
        for review in stored_reviews:
            marker = _REVIEW.search(review["payload"].get("body") or "")
            if marker and review["state"] != "PENDING":
                reviews[(repo, number, marker.group(1))] += 1
    doubles = [f"summary comment x{n} on {r}#{num}" for (r, num), n in summaries.items() if n > 1]
    doubles += [f"finding comment x{n} on {r}#{num} ({key[:16]})"
                for (r, num, key), n in findings.items() if n > 1]
    doubles += [f"review x{n} of head {head[:8]} on {r}#{num}"
                for (r, num, head), n in reviews.items() if n > 1]
    return Check("no duplicate comment", not doubles,
                 f"{sum(summaries.values())} summary comments, {sum(findings.values())} "
                 f"finding comments, {sum(reviews.values())} reviews", doubles)


def no_active_tasks(active: dict[str, int]) -> Check:
    return Check("no task left queued or running", not active,
                 ", ".join(f"{n} {status}" for status, n in active.items()) or "none")


def no_exits(exits: Sequence[Exit], retirements: Sequence[Exit] = ()) -> Check:
    """Exits nobody planned fail; a worker's clean exit after WORKER_MAX_JOBS (exit 0 after
    its retire line, ``soak_stack.planned_exit``) is counted apart and does not."""
    offenders = []
    for e in exits:
        last = [ln for ln in e.log_tail.splitlines() if ln.strip()][-1:] or ["(no log)"]
        offenders.append(f"{e.name} exited with {e.code}: {last[0][:160]}")
    planned = f", {len(retirements)} planned (WORKER_MAX_JOBS, exit 0)" if retirements else ""
    return Check("no process exited on its own", not exits, f"{len(exits)} exits{planned}",
                 offenders)


# Memory ------------------------------------------------------------------------------

def _slope_per_hour(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (m - mean_m) for t, m in points) / var * 3600


def memory(samples: Sequence[tuple[float, str, int, float]], minutes: float,
           limit_mb: float = 10.0) -> tuple[list[str], Check | None]:
    """Lines of figures per process; a check when the run reached minute 30 (the
    issue's goal: worker growth at most ``limit_mb`` from minute 10 to minute 30)."""
    lines = []
    window = (600.0, 1800.0) if minutes >= 30 else (minutes * 30.0, minutes * 60.0)
    label = "minute 10 -> 30" if minutes >= 30 else f"minute {minutes / 2:g} -> {minutes:g}"
    worst = 0.0
    for slot in ("web", *WORKERS):
        mine = [s for s in samples if s[1] == slot]
        if not mine:
            continue
        pids = Counter(pid for _, _, pid, _ in mine)
        longest = pids.most_common(1)[0][0]  # the incarnation seen the longest
        points = [(t, mb) for t, _, pid, mb in mine if pid == longest
                  and window[0] <= t <= window[1]]
        slope = _slope_per_hour(points)
        growth = points[-1][1] - points[0][1] if len(points) > 1 else 0.0
        if slot != "web":
            worst = max(worst, growth)
        lines.append(f"  {slot:9} start {mine[0][3]:6.0f} MB, end {mine[-1][3]:6.0f} MB "
                     f"({len(pids)} process(es)); {label}: {growth:+.1f} MB, "
                     f"{slope:+.0f} MB/h extrapolated")
    check = None
    if minutes >= 30:
        check = Check(f"worker memory grows at most {limit_mb:g} MB from minute 10 to 30",
                      worst <= limit_mb, f"worst {worst:+.1f} MB")
    return lines, check
