"""The report of one audit task as every renderer reads it: a plain pydantic model, built
from the stored rows (`Report.from_rows`) or, by the CLI, from in-memory results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from bot.findings import Finding, FindingStatus, Severity

if TYPE_CHECKING:
    from collections.abc import Iterable

    from bot.store.models import AuditTask, FindingRecord, Project

# Findings a person dismissed do not count towards the summary or the conclusion.
SILENT_STATUSES = frozenset(s for s in FindingStatus if s.silenced)


class TaskInfo(BaseModel):
    """What was audited, how, and how it ended."""

    id: str
    kind: str
    status: str
    trigger: str | None = None
    project_id: int | None = None
    project: str | None = None  # "owner/repo", or a local path or archive name
    project_kind: str | None = None  # github | gitlab | local | archive
    pr_number: int | None = None
    base_ref: str | None = None
    head_ref: str | None = None
    base_sha: str | None = None
    head_sha: str | None = None
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    conclusion: str | None = None
    partial_reason: str | None = None
    error: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ReportFinding(Finding):
    """A finding with what the store and the triage added to it."""

    id: int | None = None
    status: FindingStatus = FindingStatus.OPEN
    status_reason: str | None = None
    status_by: str | None = None
    placement: str = "report"  # inline | summary | report

    @classmethod
    def of(cls, finding: Finding, **extra: Any) -> ReportFinding:
        return cls(**{**finding.model_dump(), **extra})


class SkippedFile(BaseModel):
    path: str
    reason: str  # "generated", "vendored", "binary", "too large", "excluded by config", ...


class Report(BaseModel):
    task: TaskInfo
    findings: list[ReportFinding] = Field(default_factory=list)
    skipped: list[SkippedFile] = Field(default_factory=list)
    counts: dict[Severity, int] = Field(default_factory=dict)
    generated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def build(
        cls,
        task: TaskInfo,
        findings: Iterable[ReportFinding],
        skipped: Iterable[SkippedFile] = (),
    ) -> Report:
        """A report with its findings sorted worst first and its counts computed."""
        ordered = sorted(findings, key=lambda f: (-f.severity.rank, f.path, f.start_line))
        return cls(task=task, findings=ordered, skipped=list(skipped), counts=count(ordered))

    @classmethod
    def from_rows(
        cls, task: AuditTask, findings: Iterable[FindingRecord], project: Project | None
    ) -> Report:
        """Map the ORM rows of one task; skipped files come from ``task.progress["skipped"]``
        (a list of ``{"path", "reason"}`` the pipeline records)."""
        info = TaskInfo(
            id=task.id,
            kind=task.kind,
            status=task.status,
            trigger=task.trigger,
            project_id=task.project_id,
            project=project.full_name if project is not None else None,
            project_kind=project.kind if project is not None else None,
            pr_number=task.pr_number,
            base_ref=task.base_ref,
            head_ref=task.head_ref,
            base_sha=task.base_sha,
            head_sha=task.head_sha,
            model=task.model,
            input_tokens=task.input_tokens or 0,
            output_tokens=task.output_tokens or 0,
            cached_tokens=task.cached_tokens or 0,
            cost_usd=task.cost_usd or 0.0,
            conclusion=task.conclusion,
            partial_reason=task.partial_reason,
            error=task.error,
            created_at=_aware(task.created_at),
            started_at=_aware(task.started_at),
            finished_at=_aware(task.finished_at),
        )
        raw_skipped = (task.progress or {}).get("skipped") or []
        skipped = [
            SkippedFile(path=str(item.get("path", "")), reason=str(item.get("reason", "")))
            for item in raw_skipped
            if isinstance(item, dict)
        ]
        return cls.build(info, (finding_from_row(row) for row in findings), skipped)

    @property
    def visible(self) -> list[ReportFinding]:
        """Findings nobody dismissed."""
        return [f for f in self.findings if f.status not in SILENT_STATUSES]

    def by_file(self) -> list[tuple[str, list[ReportFinding]]]:
        """Findings grouped by path, files with the worst findings first."""
        groups: dict[str, list[ReportFinding]] = {}
        for finding in self.findings:
            groups.setdefault(finding.path, []).append(finding)
        return sorted(
            groups.items(),
            key=lambda item: (-max(f.severity.rank for f in item[1]), item[0]),
        )


def finding_from_row(row: FindingRecord) -> ReportFinding:
    return ReportFinding(
        id=row.id,
        path=row.path,
        start_line=max(1, row.start_line),
        end_line=max(row.start_line, row.end_line, 1),
        side="old" if row.side == "old" else "new",
        severity=Severity(row.severity),
        category=row.category,  # type: ignore[arg-type]  # validated by pydantic
        title=row.title[:200],
        message=row.message,
        cwe=row.cwe,
        suggestion=row.suggestion,
        quote=row.quote,
        confidence=min(1.0, max(0.0, row.confidence)),
        source=row.source,
        rule_id=row.rule_id,
        fingerprint=row.fingerprint,
        status=FindingStatus(row.status),
        status_reason=row.status_reason,
        status_by=row.status_by,
        placement=row.placement,
    )


def count(findings: Iterable[ReportFinding]) -> dict[Severity, int]:
    """Findings by severity, every severity present, dismissed ones left out."""
    counts = dict.fromkeys(Severity, 0)
    for finding in findings:
        if finding.status not in SILENT_STATUSES:
            counts[finding.severity] += 1
    return counts


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands timezone-aware columns back naive; every stored time is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
