"""SARIF 2.1.0 for GitHub code scanning and other SARIF consumers.

GitHub reads: rule ids with help text, physical locations relative to the repository root,
`partialFingerprints` (to follow an alert across commits), the result `level`, and the
`security-severity` property of a rule (a CVSS-like score) for security findings.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from bot.findings import Category, Severity
from bot.reports.model import Report, ReportFinding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/auditbot/auditbot"
FINGERPRINT_KEY = "auditbot/v1"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub maps security-severity to critical (>= 9.0), high (7.0-8.9), medium (4.0-6.9), low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}


def render_sarif(report: Report) -> dict[str, Any]:
    """One SARIF log with one run; valid against the SARIF 2.1.0 schema."""
    run = sarif_run(
        report.findings,
        tool_name="auditbot",
        automation_id=f"auditbot/{report.task.kind}/{report.task.id}",
        invocation=_invocation(report),
        provenance=_provenance(report),
    )
    return sarif_log([run])


def sarif_log(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}


def sarif_run(
    findings: Sequence[ReportFinding],
    *,
    tool_name: str,
    automation_id: str,
    invocation: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One run of one tool: its rules (one per rule id, at the worst severity seen) and
    results. ``automation_id``'s part before the last "/" is the run's category."""
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for finding in findings:
        rule_id = rule_id_of(finding)
        rule = rules.get(rule_id)
        if rule is None:
            rule = rules[rule_id] = _rule(rule_id, finding)
        elif finding.severity.rank > _rank_of_level(rule):
            rule["defaultConfiguration"]["level"] = LEVELS[finding.severity]
            rule["properties"]["security-severity"] = SECURITY_SEVERITY[finding.severity]
        results.append(_result(finding, rule_id, list(rules).index(rule_id)))
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": tool_name,
                "semanticVersion": _version(),
                "informationUri": INFORMATION_URI,
                "rules": list(rules.values()),
            }
        },
        "automationDetails": {"id": automation_id},
        "invocations": [invocation or {"executionSuccessful": True}],
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    if provenance:
        run["versionControlProvenance"] = [provenance]
    return run


def rule_id_of(finding: ReportFinding) -> str:
    """A stable rule id: the producer's rule, else the CWE, else the category."""
    if finding.rule_id:
        return finding.rule_id
    kind, _, name = finding.source.partition(":")
    if kind == "static" and name:
        return name
    if finding.cwe:
        return f"llm/{finding.cwe}"
    return f"llm/{finding.category.value}"


def fingerprint_of(finding: ReportFinding) -> str:
    if finding.fingerprint:
        return finding.fingerprint
    key = "\x1f".join([finding.path, rule_id_of(finding), finding.title, finding.quote or ""])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _rule(rule_id: str, finding: ReportFinding) -> dict[str, Any]:
    tags = [finding.category.value]
    if finding.category is Category.SECURITY:
        tags.append("security")
    if finding.cwe:
        number = finding.cwe.removeprefix("CWE-")
        tags.append(f"external/cwe/cwe-{number}")
    help_text = finding.message
    help_markdown = f"**{finding.title}**\n\n{finding.message}"
    if finding.cwe and re.fullmatch(r"CWE-\d+", finding.cwe):
        number = finding.cwe.removeprefix("CWE-")
        link = f"https://cwe.mitre.org/data/definitions/{number}.html"
        help_markdown += f"\n\nSee [{finding.cwe}]({link})."
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": _rule_name(rule_id),
        "shortDescription": {"text": finding.title},
        "fullDescription": {"text": finding.message},
        "help": {"text": help_text, "markdown": help_markdown},
        "defaultConfiguration": {"level": LEVELS[finding.severity]},
        "properties": {
            "tags": sorted(set(tags)),
            "precision": _precision(finding.confidence),
            "security-severity": SECURITY_SEVERITY[finding.severity],
        },
    }
    return rule


def _result(finding: ReportFinding, rule_id: str, index: int) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": finding.start_line, "endLine": finding.end_line}
    if finding.quote:
        region["snippet"] = {"text": finding.quote}
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.title}: {finding.message}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.path), "uriBaseId": "%SRCROOT%"},
                    "region": region,
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint_of(finding)},
        "properties": {
            "severity": finding.severity.value,
            "category": finding.category.value,
            "confidence": finding.confidence,
            "source": finding.source,
            "status": finding.status.value,
        },
    }
    if finding.id is not None:
        result["guid"] = _guid(finding)
    if finding.suggestion is not None:
        result["fixes"] = [
            {
                "description": {"text": "Suggested change"},
                "artifactChanges": [
                    {
                        "artifactLocation": {"uri": _uri(finding.path), "uriBaseId": "%SRCROOT%"},
                        "replacements": [
                            {
                                "deletedRegion": {
                                    "startLine": finding.start_line,
                                    "endLine": finding.end_line,
                                },
                                "insertedContent": {"text": finding.suggestion},
                            }
                        ],
                    }
                ],
            }
        ]
    if finding.status.silenced:
        suppression: dict[str, Any] = {"kind": "external", "status": "accepted"}
        if finding.status_reason:
            suppression["justification"] = finding.status_reason
        result["suppressions"] = [suppression]
    return result


def _invocation(report: Report) -> dict[str, Any]:
    task = report.task
    invocation: dict[str, Any] = {"executionSuccessful": task.status != "failed"}
    if task.started_at is not None:
        invocation["startTimeUtc"] = _time(task.started_at)
    if task.finished_at is not None:
        invocation["endTimeUtc"] = _time(task.finished_at)
    notes = []
    if task.partial_reason:
        notes.append({"level": "warning", "message": {"text": task.partial_reason}})
    notes += [
        {"level": "note", "message": {"text": f"skipped {s.path}: {s.reason}"}}
        for s in report.skipped
    ]
    if notes:
        invocation["toolExecutionNotifications"] = notes
    return invocation


def _provenance(report: Report) -> dict[str, Any] | None:
    task = report.task
    if not task.project or task.project_kind not in ("github", "gitlab"):
        return None
    host = "https://github.com" if task.project_kind == "github" else "https://gitlab.com"
    provenance: dict[str, Any] = {"repositoryUri": f"{host}/{task.project}"}
    if task.head_sha:
        provenance["revisionId"] = task.head_sha
    if task.head_ref:
        provenance["branch"] = task.head_ref
    return provenance


def _uri(path: str) -> str:
    # SARIF artifact URIs are relative references: forward slashes, no leading slash.
    from urllib.parse import quote

    return quote(path.replace("\\", "/").lstrip("/"), safe="/-_.~")


def _guid(finding: ReportFinding) -> str:
    digest = hashlib.sha256(f"auditbot-finding-{finding.id}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"


def _rule_name(rule_id: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", rule_id)
    return "".join(w[:1].upper() + w[1:] for w in words if w) or "Finding"


def _precision(confidence: float) -> str:
    if confidence >= 0.9:
        return "very-high"
    if confidence >= 0.7:
        return "high"
    if confidence >= 0.4:
        return "medium"
    return "low"


def _rank_of_level(rule: dict[str, Any]) -> int:
    level = rule["defaultConfiguration"]["level"]
    return {"error": 3, "warning": 2, "note": 0}.get(level, 0)


def _time(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))


def _version() -> str:
    try:
        return version("auditbot")
    except PackageNotFoundError:
        return "0.0.0"
