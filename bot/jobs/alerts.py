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

from sqlalchemy import func, select

from bot.errors import AuditbotError, NotFound, RetryLater
from bot.findings import FindingStatus
from bot.forges.github.code_scanning import AlertInfo, DismissReason
from bot.jobs.contracts import CodeScanningAlertEvent, Repository
from bot.jobs.deps import JobDeps, deps_of, project_for
from bot.jobs.forge_jobs import with_forge
from bot.reports.code_scanning import TOOL_PREFIX
from bot.reports.model import finding_from_row
from bot.reports.sarif import rule_id_of
from bot.store.models import FindingRecord, Installation, Project, TriageEvent
from bot.store.triage import TriageSource, triage_fingerprint

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

    async def work(deps: JobDeps, forge: Any) -> str:
        return await _alert_to_triage(deps, forge, job)

    return await with_forge(ctx, job.repository, job.delivery_id, work)


async def _alert_to_triage(deps: JobDeps, forge: Any, job: CodeScanningAlertEvent) -> str:
    if job.action == "reopened_by_user":
        state = FindingStatus.OPEN
    else:
        state = _STATE_OF_REASON.get(job.dismissed_reason or "", FindingStatus.FALSE_POSITIVE)
    alert: AlertInfo = await forge.code_scanning_alert(job.alert_number)
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
        async with deps.sessions() as session, session.begin():
            result = await triage_fingerprint(
                session, project_id, fingerprint, state, actor=job.sender or "github",
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
    async with deps.sessions() as session:
        rows = list(await session.scalars(
            select(FindingRecord)
            .where(FindingRecord.project_id == project_id, FindingRecord.path == alert.path,
                   FindingRecord.start_line == alert.start_line)
            .order_by(FindingRecord.id.desc())
            .limit(200)
        ))
    matching = [r for r in rows if rule_id_of(finding_from_row(r)) == alert.rule_id]
    at_commit = [r for r in matching if r.last_seen_sha == alert.commit_sha]
    chosen = at_commit or matching
    return chosen[0].fingerprint if chosen else None


async def sync_code_scanning(ctx: dict[str, Any]) -> int:
    """Apply triage decisions made outside code scanning to auditbot's alerts; returns how
    many alerts changed."""
    deps = deps_of(ctx)
    raw = await deps.redis.get(SYNC_MARK_KEY)
    async with deps.sessions() as session:
        if raw is None:
            # First run (or Redis lost the mark): start from now, not from all history.
            newest = await session.scalar(select(func.max(TriageEvent.id)))
            await deps.redis.set(SYNC_MARK_KEY, int(newest or 0))
            return 0
        events = list(await session.scalars(
            select(TriageEvent)
            .where(TriageEvent.id > int(raw),
                   TriageEvent.source != TriageSource.CODE_SCANNING.value)
            .order_by(TriageEvent.id)
            .limit(SYNC_BATCH)
        ))
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
    async with deps.sessions() as session:
        project = await session.get(Project, project_id)
        installation = (await session.get(Installation, project.installation_id)
                        if project is not None and project.installation_id else None)
        if project is None or project.kind != "github" or project.external_id is None \
                or installation is None:
            return 0
        wanted: list[tuple[FindingStatus, TriageEvent, FindingRecord]] = []
        for event in events:
            row = await session.scalar(
                select(FindingRecord)
                .where(FindingRecord.project_id == project_id,
                       FindingRecord.fingerprint == event.fingerprint)
                .order_by(FindingRecord.id.desc()).limit(1)
            )
            if row is not None:
                wanted.append((FindingStatus(event.to_state), event, row))
    if not wanted:
        return 0
    repository = Repository(forge="github", id=project.external_id, full_name=project.full_name,
                            default_branch=project.default_branch,
                            installation_id=installation.external_id)
    forge: Any = await deps.forges(repository)
    try:
        try:
            alerts = await forge.code_scanning_alerts(TOOL_PREFIX)
        except AuditbotError as exc:
            if isinstance(exc, RetryLater):
                raise
            log.info("code scanning alerts of %s not readable: %s", project.full_name, exc)
            return 0
        changed = 0
        for state, event, row in wanted:
            rule = rule_id_of(finding_from_row(row))
            for alert in alerts:
                if (alert.rule_id, alert.path, alert.start_line) != (rule, row.path,
                                                                     row.start_line):
                    continue
                if state.silenced and alert.state == "open":
                    await forge.set_alert_state(alert.number, "dismissed",
                                                _REASON_OF_STATE[state], event.reason)
                    changed += 1
                elif state.active and alert.state == "dismissed":
                    await forge.set_alert_state(alert.number, "open")
                    changed += 1
        return changed
    finally:
        await forge.close()
