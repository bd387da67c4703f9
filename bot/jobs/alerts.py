"""Dismissals flow both ways between auditbot's triage and GitHub code scanning.

- ``code_scanning_alert`` (a job per delivery): a person dismissed or reopened one of
  auditbot's alerts in the Security tab; the alert's location and rule name the finding
  (our SARIF put the finding's lines and rule there), and its fingerprint is triaged with
  source ``code_scanning``: false positive, used in tests -> false_positive; won't fix,
  mitigated -> wont_fix; reopened -> open. Only people with write access can dismiss alerts
  on GitHub, so the sender's decision stands as is.
- ``sync_code_scanning`` (a cron job): triage decisions made anywhere else (the API, the
  report pages, replies in threads, 👎) are read from ``triage_events`` after the last one
  handled (a mark in Redis) and applied to the matching alerts with ``PATCH``. Events that
  came from code scanning are not sent back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.errors import AuditbotError, NotFound, RetryLater
from bot.findings import FindingStatus
from bot.forges.code_scanning import AlertInfo, DismissReason
from bot.forges.pull_requests import PullRequestForge
from bot.jobs.contracts import CodeScanningAlertEvent
from bot.jobs.deps import JobDeps, deps_of, project_for, repository_of
from bot.jobs.forge_jobs import with_forge
from bot.reports.code_scanning import TOOL_PREFIX
from bot.reports.model import finding_from_row
from bot.reports.sarif import rule_id_of
from bot.store import code_scanning as store
from bot.store.models import TriageEvent
from bot.store.triage import TriageSource, triage_fingerprint_in

log = logging.getLogger(__name__)

SYNC_MARK_KEY = "auditbot:code-scanning:synced-event"
SYNC_BATCH = 200
_STATE_OF_REASON = {
    "false positive": FindingStatus.FALSE_POSITIVE,
    "used in tests": FindingStatus.FALSE_POSITIVE,
    "won't fix": FindingStatus.WONT_FIX,
    "mitigated": FindingStatus.WONT_FIX,
}
_REASON_OF_STATE: dict[FindingStatus, DismissReason] = {
    FindingStatus.FALSE_POSITIVE: "false positive",
    FindingStatus.WONT_FIX: "won't fix",
}


async def code_scanning_alert(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    job = CodeScanningAlertEvent.model_validate(payload)

    async def work(deps: JobDeps, forge: PullRequestForge) -> str:
        return await _alert_to_triage(deps, forge, job)

    return await with_forge(ctx, job.repository, job.delivery_id, work)


async def _alert_to_triage(
    deps: JobDeps, forge: PullRequestForge, job: CodeScanningAlertEvent
) -> str:
    if job.action == "reopened_by_user":
        state = FindingStatus.OPEN
    else:
        state = _STATE_OF_REASON.get(job.dismissed_reason or "", FindingStatus.FALSE_POSITIVE)
    if forge.code_scanning is None:
        return "no code scanning"
    alert = await forge.code_scanning.code_scanning_alert(job.alert_number)
    if not alert.tool.startswith(TOOL_PREFIX):
        return "not ours"
    project_id = await project_for(deps, job.repository)
    fingerprint = await _fingerprint_of(deps, project_id, alert)
    if fingerprint is None:
        log.info("alert %d matches no finding of auditbot's", alert.number)
        return "unknown finding"
    reason = job.dismissed_comment or (
        f"{job.dismissed_reason} (GitHub code scanning)" if job.dismissed_reason
        else "reopened in GitHub code scanning"
    )
    try:
        result = await triage_fingerprint_in(
            deps.sessions, project_id, fingerprint, state, actor=job.sender or "github",
            reason=reason, source=TriageSource.CODE_SCANNING,
            learn=bool(job.dismissed_comment),
        )
    except NotFound:
        return "unknown finding"
    log.info("alert %d (%s) -> %s by %s", alert.number, fingerprint[:12], state.value, job.sender)
    return state.value if result.changed else "unchanged"


async def _fingerprint_of(deps: JobDeps, project_id: int, alert: AlertInfo) -> str | None:
    """The finding our SARIF result for this alert was made from: same path, first line
    and rule; the record of the alert's commit when there is one, else the latest."""
    if alert.path is None or alert.start_line is None:
        return None
    rows = await store.records_at(deps.sessions, project_id, alert.path, alert.start_line)
    matching = [r for r in rows if rule_id_of(finding_from_row(r)) == alert.rule_id]
    at_commit = [r for r in matching if r.last_seen_sha == alert.commit_sha]
    chosen = at_commit or matching
    return chosen[0].fingerprint if chosen else None


async def sync_code_scanning(ctx: dict[str, Any]) -> int:
    """Apply triage decisions made outside code scanning to auditbot's alerts; returns how
    many alerts changed."""
    deps = deps_of(ctx)
    raw = await deps.redis.get(SYNC_MARK_KEY)
    if raw is None:
        # First run (or Redis lost the mark): start from now, not from all history.
        await deps.redis.set(SYNC_MARK_KEY, await store.newest_event_id(deps.sessions))
        return 0
    events = await store.events_after(deps.sessions, int(raw),
                                       except_source=TriageSource.CODE_SCANNING.value,
                                       limit=SYNC_BATCH)
    if not events:
        return 0
    latest: dict[tuple[int, str], TriageEvent] = {}
    for event in events:
        if event.project_id is not None:
            latest[(event.project_id, event.fingerprint)] = event
    changed = 0
    by_project: dict[int, list[TriageEvent]] = {}
    for (project_id, _), event in latest.items():
        by_project.setdefault(project_id, []).append(event)
    for project_id, project_events in by_project.items():
        try:
            changed += await _sync_project(deps, project_id, project_events)
        except RetryLater:
            raise  # the mark stays: these events are tried again at the next run
        except AuditbotError as exc:
            log.warning("code scanning alerts of project %d not updated: %s", project_id, exc)
    await deps.redis.set(SYNC_MARK_KEY, events[-1].id)
    return changed


async def _sync_project(deps: JobDeps, project_id: int, events: Sequence[TriageEvent]) -> int:
    repository = await repository_of(deps, project_id)
    if repository is None or repository.forge != "github" or repository.installation_id is None:
        return 0
    latest = await store.latest_records(deps.sessions, project_id,
                                        [e.fingerprint for e in events])
    wanted = [(FindingStatus(e.to_state), e, latest[e.fingerprint])
              for e in events if e.fingerprint in latest]
    if not wanted:
        return 0
    forge = await deps.forges(repository)
    scanning = forge.code_scanning
    try:
        if scanning is None:
            return 0
        try:
            alerts = await scanning.code_scanning_alerts(TOOL_PREFIX)
        except RetryLater:
            raise
        except AuditbotError as exc:
            log.info("code scanning alerts of %s not readable: %s", repository.full_name, exc)
            return 0
        changed = 0
        for state, event, row in wanted:
            rule = rule_id_of(finding_from_row(row))
            for alert in alerts:
                if (alert.rule_id, alert.path, alert.start_line) != (rule, row.path,
                                                                     row.start_line):
                    continue
                if state.silenced and alert.state == "open":
                    await scanning.set_alert_state(alert.number, "dismissed",
                                                _REASON_OF_STATE[state], event.reason)
                    changed += 1
                elif state.active and alert.state == "dismissed":
                    await scanning.set_alert_state(alert.number, "open")
                    changed += 1
        return changed
    finally:
        await forge.close()
