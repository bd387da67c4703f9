"""Each audit's findings uploaded to GitHub code scanning, and the upload followed.

Pull requests upload to ``refs/pull/<n>/head`` at the head commit; pushes to the default
branch upload to ``refs/heads/<branch>``, so pull-request alerts have a base to compare with.
An analysis holds everything the tool knows for the ref (GitHub closes what a later analysis
of the same category lacks): a pull request's open findings, carried ones included; a push's
findings plus those of the branch's previous analysis in files the push did not change.

Nothing here fails an audit. The App without ``security_events`` permission (the operator
did not choose code scanning) is remembered for a while and not tried again; a repository
GitHub refuses (no Advanced Security) gets one line in the summary; ``code_scanning: false``
in `.auditbot.yml` opts a repository out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from bot.analysis.repo_config import RepoConfig
from bot.errors import AuditbotError
from bot.findings import Finding
from bot.forges.code_scanning import (
    SARIF_MAX_BYTES,
    CodeScanning,
    CodeScanningUnavailable,
    SarifStatus,
    encode_sarif,
)
from bot.jobs.contracts import Repository
from bot.jobs.deps import JobDeps
from bot.reports.code_scanning import code_scanning_log
from bot.reports.model import ReportFinding, finding_from_row
from bot.store import audits
from bot.store import code_scanning as store
from bot.store.triage import SILENCED

log = logging.getLogger(__name__)

PROGRESS_KEY = store.PROGRESS_KEY
_PREFIX = "auditbot:code-scanning"
NO_PERMISSION_TTL_S = 600  # the operator may add the permission; look again soon
UNAVAILABLE_TTL_S = 3600
UPLOAD_TTL_S = 24 * 3600
# Following the processing: GitHub usually finishes in seconds; the audit is already done.
FOLLOW_DELAYS_S = (1.0, 2.0, 4.0, 8.0)
# base64 grows the gzip by 4/3; GitHub's limit is on the compressed file.
_MAX_ENCODED = SARIF_MAX_BYTES * 4 // 3


@dataclass(frozen=True)
class Analysis:
    """What one audit uploads: where, and what its tools found."""

    ref: str
    commit_sha: str
    findings: Sequence[Finding]
    tools: Collection[str]  # "static", and "llm" when the model analysed all of it


def pull_ref(number: int) -> str:
    return f"refs/pull/{number}/head"


def branch_ref(branch: str) -> str:
    return branch if branch.startswith("refs/") else f"refs/heads/{branch}"


def tools_of(model: str | None, partial_reason: str | None) -> tuple[str, ...]:
    """The model's run only when it analysed the whole change: a run from a model cut short
    by its budget would close the alerts of everything it did not get to."""
    return ("llm", "static") if model and not partial_reason else ("static",)


async def upload_analysis(
    deps: JobDeps,
    scanning: CodeScanning | None,
    *,
    repository: Repository,
    config: RepoConfig,
    task_id: str,
    analysis: Analysis,
) -> str | None:
    """Upload the analysis through the forge's code scanning (None: it has none); returns a
    line for the summary when people should know why nothing reached the Security tab,
    else None."""
    if repository.forge != "github" or not config.code_scanning or scanning is None:
        return None
    remembered = await _remembered(deps, repository)
    if remembered is not None:
        return remembered or None
    findings = [ReportFinding.of(f) for f in analysis.findings]
    sarif = encode_sarif(code_scanning_log(findings, run_id=task_id, tools=analysis.tools))
    if len(sarif) > _MAX_ENCODED:
        return ("GitHub code scanning: the analysis is larger than GitHub's 10 MB limit "
                "after compression; it was not uploaded.")
    try:
        sarif_id = await scanning.upload_sarif(
            commit_sha=analysis.commit_sha, ref=analysis.ref, sarif=sarif
        )
    except CodeScanningUnavailable as exc:
        return await _unavailable(deps, repository, exc)
    except AuditbotError as exc:
        log.warning("code scanning upload failed: %s", exc)
        return f"GitHub code scanning did not take this analysis ({exc.message[:200]}); " \
               "the next audit uploads again."
    # Kept in Redis until the task has ended (its end rewrites the task's progress record);
    # follow_analysis then stores it on the task.
    record = {
        "sarif_id": sarif_id, "ref": analysis.ref, "commit_sha": analysis.commit_sha,
        "status": "pending", "errors": [],
        "fingerprints": sorted({f.fingerprint for f in findings if f.fingerprint}),
    }
    await deps.redis.set(_upload_key(task_id), json.dumps(record), ex=UPLOAD_TTL_S)
    log.info("uploaded %d finding(s) to code scanning as %s (%s)", len(findings), sarif_id,
             analysis.ref)
    return None


async def known_refusal(
    deps: JobDeps, repository: Repository, config: RepoConfig
) -> list[str]:
    """The summary line of a refusal remembered for this repository, without asking GitHub."""
    if repository.forge != "github" or not config.code_scanning:
        return []
    remembered = await _remembered(deps, repository)
    return [remembered] if remembered else []


async def follow_analysis(
    deps: JobDeps, scanning: CodeScanning | None, task_id: str
) -> str | None:
    """Follow the upload of ``task_id`` until GitHub has processed it (or a few seconds
    passed); records and returns its status."""
    if scanning is None:
        return None
    raw = await deps.redis.get(_upload_key(task_id))
    if raw is None:
        return None
    record: dict[str, Any] = json.loads(raw)
    sarif_id = record["sarif_id"]
    status = SarifStatus(str(record.get("status") or "pending"))
    for delay in (0.0, *FOLLOW_DELAYS_S):
        await asyncio.sleep(delay)
        try:
            status = await scanning.sarif_status(str(sarif_id))
        except AuditbotError as exc:
            log.info("could not read the processing status of %s: %s", sarif_id, exc)
            break
        if status.status != "pending":
            break
    record.update(status=status.status, errors=list(status.errors)[:20])
    await audits.merge_progress(deps.sessions, task_id, PROGRESS_KEY, record)
    await deps.redis.delete(_upload_key(task_id))
    if status.status == "failed":
        log.warning("code scanning could not process %s: %s", sarif_id, "; ".join(status.errors))
    return status.status


async def branch_analysis(
    deps: JobDeps,
    *,
    project_id: int,
    task_id: str,
    ref: str,
    found: Sequence[Finding],
    changed_paths: Collection[str],
) -> list[Finding]:
    """A push's findings and the branch's previous analysis's, in files it did not change
    (they were not analysed again, so they still stand)."""
    previous = await store.previous_branch_analysis(
        deps.sessions, project_id, ref, other_than_task=task_id
    )
    if not previous:
        return list(found)
    current = {f.fingerprint for f in found}
    latest = await store.latest_records(deps.sessions, project_id, previous)
    carried = [
        finding_from_row(row) for fp, row in latest.items()
        if fp not in current and row.path not in changed_paths
        and row.status not in {s.value for s in SILENCED} and row.status != "fixed"
    ]
    return [*found, *carried]


def _upload_key(task_id: str) -> str:
    return f"{_PREFIX}:upload:{task_id}"


async def _remembered(deps: JobDeps, repository: Repository) -> str | None:
    """An empty string when the installation lacks the permission, the summary line when
    the repository cannot use code scanning, None when nothing is remembered."""
    installation = repository.installation_id
    if installation is not None and await deps.redis.exists(
        f"{_PREFIX}:no-permission:{installation}"
    ):
        return ""
    value: Any = await deps.redis.get(f"{_PREFIX}:unavailable:{repository.id}")
    return value.decode() if isinstance(value, bytes) else value


async def _unavailable(
    deps: JobDeps, repository: Repository, exc: CodeScanningUnavailable
) -> str | None:
    if exc.permission:
        log.info("the GitHub App may not upload to code scanning (security_events); "
                 "`auditbot setup --code-scanning` adds the permission")
        if repository.installation_id is not None:
            await deps.redis.set(f"{_PREFIX}:no-permission:{repository.installation_id}", b"1",
                                 ex=NO_PERMISSION_TTL_S)
        return None
    note = (
        f"GitHub code scanning refused the analysis for this repository ({exc.message[:200]}); "
        "findings stay here and in the report. Enable GitHub Advanced Security (Code "
        "Security) for the repository, or set `code_scanning: false` in `.auditbot.yml`."
    )
    await deps.redis.set(f"{_PREFIX}:unavailable:{repository.id}", note.encode(),
                         ex=UNAVAILABLE_TTL_S)
    return note
