"""`/metrics` of running workers (real processes, real Redis, the fake GitHub and the fake
OpenAI-compatible model): what an audit leaves in the figures, and two workers on one host
without colliding."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import LLM_MODEL, Stack
from tests.e2e.test_github_review import BASE, HEAD, completed, llm_finding, pr_payload
from tests.support.gitrepo import commit, make_repo
from tests.support.processes import Process, wait_for
from tests.support.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    response.raise_for_status()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def answering(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def job_count(port: int, **labels: str) -> float | None:
    return value(scrape(port), "auditbot_jobs_total", **labels)


def open_pull(stack: Stack, tmp_path: Path, number: int) -> str:
    repo = make_repo(tmp_path / f"src{number}", {"app.py": BASE})
    commit(repo, {"app.py": HEAD}, "search and export")
    base_sha, head_sha = stack.set_pull(number, repo, "HEAD~1", "HEAD")
    response = stack.deliver("pull_request", pr_payload("opened", number, base_sha, head_sha))
    assert response.status_code == 202, response.text
    return head_sha


def test_worker_metrics_show_the_queue_jobs_and_model_tokens_after_an_audit(
    stack: Stack, tmp_path: Path
) -> None:
    port = free_port()
    stack.llm.findings = [llm_finding()]
    worker = stack.worker(WORKER_METRICS_PORT=str(port))
    wait_for(lambda: answering(port), timeout=60, what="the worker's /metrics", logs=[worker])

    head_sha = open_pull(stack, tmp_path, 7)
    wait_for(lambda: bool(completed(stack, head_sha)), timeout=120, what="the check run",
             logs=[worker, stack.processes[0]])
    jobs = {"function": "review_pull_request"}
    # The job is counted as it returns, just after it concluded the check run.
    wait_for(lambda: job_count(port, **jobs, outcome="succeeded") == 1, timeout=30,
             what="the job counted", logs=[worker])

    samples = scrape(port)
    assert value(samples, "auditbot_queue_depth") is not None
    assert (value(samples, "auditbot_queue_oldest_job_age_seconds") or 0) >= 0
    assert value(samples, "auditbot_jobs_total", **jobs, outcome="succeeded") == 1
    assert value(samples, "auditbot_job_duration_seconds_count", **jobs) == 1
    model = {"provider": "openai_compatible", "model": LLM_MODEL}
    assert value(samples, "auditbot_llm_calls_total", **model, outcome="ok") == len(
        stack.llm.usages
    )
    input_tokens = sum(u["prompt_tokens"] for u in stack.llm.usages)
    assert value(samples, "auditbot_llm_tokens_total", **model, kind="input") == input_tokens
    assert (value(samples, "auditbot_llm_cost_usd_total", **model) or 0) > 0
    assert (value(samples, "auditbot_findings_total", severity="high") or 0) >= 1


def test_two_workers_on_one_host_share_one_port_and_the_sums(
    stack: Stack, tmp_path: Path
) -> None:
    port = free_port()
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {"WORKER_METRICS_PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    workers = [stack.worker(f"worker-{n}", **env) for n in (1, 2)]
    wait_for(lambda: answering(port), timeout=60, what="the workers' /metrics", logs=workers)

    heads = [open_pull(stack, tmp_path, number) for number in (11, 12)]
    wait_for(lambda: all(completed(stack, head) for head in heads), timeout=180,
             what="both check runs", logs=[*workers, stack.processes[0]])

    reviews = {"function": "review_pull_request", "outcome": "succeeded"}
    wait_for(lambda: job_count(port, **reviews) == 2, timeout=30, what="both jobs counted",
             logs=workers)
    # Whichever worker the kernel hands a scrape to, it answers with both workers' sums.
    for _ in range(8):
        assert value(scrape(port), "auditbot_jobs_total", **reviews) == 2
    assert all(w.popen.poll() is None for w in workers), "a worker could not listen"
    # One worker gone: the other still answers, its figures included.
    workers[0].stop()
    wait_for(lambda: answering(port), timeout=10, what="the other worker", logs=workers)
    assert value(scrape(port), "auditbot_jobs_total", **reviews) == 2


def test_a_second_worker_on_a_taken_port_ends_with_one_line(stack: Stack) -> None:
    port = free_port()
    first = stack.worker("worker-1", WORKER_METRICS_PORT=str(port))
    wait_for(lambda: answering(port), timeout=60, what="the first worker's /metrics",
             logs=[first])
    second: Process = stack.worker("worker-2", WORKER_METRICS_PORT=str(port))
    second.popen.wait(timeout=60)
    assert second.popen.returncode == 1
    lines = second.log().strip().splitlines()
    assert lines[-1].startswith(f"auditbot: WORKER_METRICS_PORT: cannot listen on 127.0.0.1:{port}")
    assert "PROMETHEUS_MULTIPROC_DIR" in lines[-1]
    assert "Traceback" not in second.log()
    assert first.popen.poll() is None
