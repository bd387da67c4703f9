"""Webhook throughput: auditbot vs Probot 14 on the same machine, same load, same bodies.

Load generator: wrk (Debian's package: `apt-get install -y wrk`), driven by a Lua script that
sends signed 23 KB `pull_request.opened` deliveries over 32 keep-alive connections. Every
delivery has its own delivery id and its own head SHA (so its own signature, precomputed
here), so auditbot really verifies, dedupes and durably enqueues each one (a new arq job in a
private redis-server with appendonly and noeviction), while Probot verifies and routes it to a
minimal `pull_request.opened` handler. Probot 14 is installed with npm into a temporary folder.

    .venv/bin/python bench/bench_webhooks.py [--duration 10] [--connections 32]

Everything listens on 127.0.0.1 only; every run and process is bounded and stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "github" / "pull_request.opened.json"
SECRET = "bench-webhook-secret"
BODY_BYTES = 23 * 1024
PLACEHOLDER = "@@HEAD_SHA@@"
PROBOT_VERSION = "14"

WRK_SCRIPT = r"""
local parts, entries, counter, stride, path = {}, {}, 0, 1, "/"
statuses = {}
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local dir = args[1]
  local offset, nthreads = tonumber(args[2]), tonumber(args[3])
  path = args[4]
  local f = io.open(dir .. "/template.json", "rb")
  local template = f:read("*a")
  f:close()
  local start = 1
  while true do
    local i, j = string.find(template, "@@HEAD_SHA@@", start, true)
    if not i then break end
    table.insert(parts, string.sub(template, start, i - 1))
    start = j + 1
  end
  table.insert(parts, string.sub(template, start))
  for line in io.lines(dir .. "/signatures.txt") do
    local sha, sig = string.match(line, "(%S+) (%S+)")
    table.insert(entries, {sha, sig})
  end
  counter = offset + tid
  stride = nthreads
end

function request()
  local entry = entries[(counter % #entries) + 1]
  local delivery = "bench-" .. counter
  counter = counter + stride
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "pull_request",
    ["X-GitHub-Delivery"] = delivery,
    ["X-Hub-Signature-256"] = entry[2],
    ["User-Agent"] = "GitHub-Hookshot/bench",
  }
  return wrk.format("POST", path, headers, table.concat(parts, entry[1]))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for status, n in pairs(s) do
      counts[tostring(status)] = (counts[tostring(status)] or 0) + n
    end
  end
  local items = {}
  for status, n in pairs(counts) do
    table.insert(items, string.format('"%s": %d', status, n))
  end
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, table.concat(items, ", ")))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:g} s")


def healthy(url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers 2xx (a server may accept before it answers)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=5).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def process(args: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def make_bodies(directory: Path, count: int) -> None:
    """A 23 KB template with a placeholder for the head SHA, and `count` (SHA, signature)
    pairs: each delivery is different work, signed as GitHub would sign it."""
    payload = json.loads(FIXTURE.read_text())
    old_sha = payload["pull_request"]["head"]["sha"]
    payload["pull_request"]["body"] = ""
    size = len(json.dumps(payload).encode())
    payload["pull_request"]["body"] = "x" * (BODY_BYTES - size)
    template = json.dumps(payload).replace(old_sha, PLACEHOLDER)
    (directory / "template.json").write_text(template)
    parts = template.encode().split(PLACEHOLDER.encode())
    lines = []
    for i in range(count):
        sha = hashlib.sha1(f"bench-{i}".encode()).hexdigest()
        body = sha.encode().join(parts)
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        lines.append(f"{sha} {signature}")
    (directory / "signatures.txt").write_text("\n".join(lines) + "\n")
    print(f"bodies: {len(body)} bytes each, {count} distinct signed deliveries")


def run_wrk(
    port: int,
    path: str,
    directory: Path,
    *,
    offset: int,
    seconds: int,
    connections: int,
    threads: int,
) -> dict[str, Any]:
    script = directory / "deliveries.lua"
    script.write_text(WRK_SCRIPT)
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{path}",
        "--",
        str(directory),
        str(offset),
        str(threads),
        path,
    ]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    line = next(line for line in out.stdout.splitlines() if line.startswith("BENCH "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def report(name: str, result: dict[str, Any]) -> None:
    print(
        f"  {name:9s} {result['rps']:7.0f} req/s   p50 {result['p50_us'] / 1000:7.2f} ms   "
        f"p99 {result['p99_us'] / 1000:7.2f} ms   answers {result['statuses']}   "
        f"socket errors {result['errors']}"
    )


@contextlib.contextmanager
def auditbot_server(directory: Path) -> Iterator[tuple[int, redis.Redis]]:
    """One `auditbot serve` process on a private, durable redis-server (appendonly,
    noeviction): what production runs."""
    redis_port, port = free_port(), free_port()
    redis_dir = directory / "redis"
    redis_dir.mkdir()
    redis_args = [
        "redis-server",
        "--port",
        str(redis_port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(redis_dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--maxmemory-policy",
        "noeviction",
    ]
    env = {
        **os.environ,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'auditbot.db'}",
        "WEBHOOK_SECRET": SECRET,
        "JWT_SECRET": "bench-" + "j" * 40,
        "APP_SLUG": "auditbot",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",  # Probot runs at "warn" too: no line per delivery on either
        "DATA_DIR": str(directory / "data"),
    }
    auditbot = str(Path(sys.executable).parent / "auditbot")
    with process(redis_args, env=env, cwd=directory, log=directory / "redis.log"):
        wait_for_port(redis_port)
        with process([auditbot, "serve"], env=env, cwd=directory, log=directory / "serve.log"):
            wait_for_port(port)
            healthy(f"http://127.0.0.1:{port}/healthz")
            client = redis.Redis(port=redis_port)
            try:
                yield port, client
            finally:
                client.close()


@contextlib.contextmanager
def probot_server(directory: Path) -> Iterator[int]:
    """Probot 14 (installed here with npm) running a minimal pull_request.opened handler."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        sys.exit("bench: node and npm are needed to run Probot")
    app_dir = directory / "probot"
    app_dir.mkdir()
    (app_dir / "package.json").write_text('{"name": "bench-probot", "private": true}\n')
    (app_dir / "app.mjs").write_text(
        'export default (app) => {\n  app.on("pull_request.opened", async (context) => {});\n};\n'
    )
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", f"probot@{PROBOT_VERSION}"],
        cwd=app_dir,
        check=True,
        timeout=300,
        stdout=subprocess.DEVNULL,
    )
    version = json.loads((app_dir / "node_modules/probot/package.json").read_text())["version"]
    node_version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    key = subprocess.run(
        ["openssl", "genrsa", "2048"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    port = free_port()
    env = {
        **os.environ,
        "APP_ID": "1",
        "PRIVATE_KEY": key,  # never used: the handler makes no GitHub call
        "WEBHOOK_SECRET": SECRET,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "warn",
        "NODE_ENV": "production",
    }
    probot = [node, "node_modules/probot/bin/probot.js", "run", "./app.mjs"]
    with process(probot, env=env, cwd=app_dir, log=directory / "probot.log"):
        wait_for_port(port)
        print(f"probot {version} on node {node_version}")
        yield port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measured runs of each server, interleaved (the machine's other "
        "load changes over time; medians are reported)",
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--deliveries",
        type=int,
        default=None,
        help="distinct signed deliveries prepared (default: enough for 12,000 req/s in every "
        "run, so no measured request repeats an earlier one's work)",
    )
    args = parser.parse_args()
    if args.deliveries is None:
        args.deliveries = (args.rounds + 1) * (args.duration + 2) * 12_000
    for tool in ("wrk", "redis-server", "openssl"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} is needed (apt-get install -y {tool.split('-')[0]})")
    slot = args.deliveries // (args.rounds + 1)  # each auditbot run gets fresh deliveries
    load = {"connections": args.connections, "threads": args.threads}
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        directory = Path(tmp)
        make_bodies(directory, args.deliveries)
        print(
            f"load: wrk {subprocess.run(['wrk', '-v'], capture_output=True, text=True).stdout.split()[1]}"  # noqa: E501
            f", {args.threads} thread(s), {args.connections} connections, {args.rounds} x "
            f"{args.duration} s per server after a 2 s warm-up each, 127.0.0.1 only"
        )
        with (
            auditbot_server(directory) as (ours_port, ours_redis),
            probot_server(directory) as theirs_port,
        ):
            ours_path, theirs_path = "/webhooks/github", "/api/github/webhooks"
            run_wrk(ours_port, ours_path, directory, offset=0, seconds=2, **load)
            run_wrk(theirs_port, theirs_path, directory, offset=0, seconds=2, **load)
            queued_before = ours_redis.zcard("arq:queue")
            ours, theirs = [], []
            for round_ in range(args.rounds):
                print(f"round {round_ + 1}")
                offset = slot * (round_ + 1)
                ours.append(
                    run_wrk(
                        ours_port,
                        ours_path,
                        directory,
                        offset=offset,
                        seconds=args.duration,
                        **load,
                    )
                )
                report("auditbot", ours[-1])
                theirs.append(
                    run_wrk(
                        theirs_port,
                        theirs_path,
                        directory,
                        offset=offset,
                        seconds=args.duration,
                        **load,
                    )
                )
                report("probot", theirs[-1])
            new_jobs = ours_redis.zcard("arq:queue") - queued_before
        accepted = sum(r["statuses"].get("202", 0) for r in ours)
        answered = sum(sum(r["statuses"].values()) for r in ours)
        if accepted != answered:
            print(
                f"warning: {answered - accepted} measured deliveries were not new work "
                "(too few prepared for this rate: raise --deliveries)"
            )
        print(
            f"auditbot: {accepted} deliveries answered 202 in the measured runs, "
            f"{new_jobs} new arq jobs in Redis (each 202 is a durable job)"
        )
        med = {
            name: {
                key: statistics.median(r[key] for r in runs) for key in ("rps", "p50_us", "p99_us")
            }
            for name, runs in (("auditbot", ours), ("probot", theirs))
        }
        for name, m in med.items():
            print(
                f"median {name:9s} {m['rps']:7.0f} req/s   p50 {m['p50_us'] / 1000:7.2f} ms   "
                f"p99 {m['p99_us'] / 1000:7.2f} ms"
            )
        print(
            f"ratio auditbot/probot: {med['auditbot']['rps'] / med['probot']['rps']:.2f}x req/s"
            f" (goal >= 1.0); p99 {med['auditbot']['p99_us'] / 1000:.2f} ms vs "
            f"{med['probot']['p99_us'] / 1000:.2f} ms (goal <=)"
        )


if __name__ == "__main__":
    main()
