"""The offline stage of a review: every file of a change through the engine at once, then
per file the line rules, the secret scanner and (when the engine could not run) Bandit.

Files are analysed whole, so a taint rule sees the line where a value comes in even when only
the line where it is used changed; findings are kept when they touch a changed line. Then a
repository's rule settings (``rules`` in .auditbot.yml) and inline suppressions apply, and each
finding is merged, quoted (secrets masked) and fingerprinted.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from bot.analysis.engine import EngineRule, EngineScan
from bot.analysis.merge import fingerprint, merge_findings
from bot.analysis.secrets import mask_secrets
from bot.analysis.static import analyze_file
from bot.analysis.suppressions import apply_suppressions
from bot.findings import Finding, Severity

logger = logging.getLogger(__name__)

# Files the engine reads (its languages); everything else only meets the line rules.
ENGINE_SUFFIXES = frozenset({
    ".py", ".pyw", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".vue", ".go",
    ".java", ".rb", ".php", ".phtml",
})


@dataclass(frozen=True)
class RuleSettings:
    """A repository's choices: rules switched off, severities changed (by rule id), and the
    custom rules it added under .auditbot/rules/ (already validated)."""

    disabled: frozenset[str] = frozenset()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    custom: tuple[tuple[dict[str, Any], EngineRule], ...] = ()


@dataclass
class OfflineResult:
    findings: list[Finding]
    errors: list[str]  # engine or rule errors, for the check run
    engine_ran: bool


def analyze_change(
    files: Mapping[str, str],
    lines: Mapping[str, Collection[int]] | None = None,
    settings: RuleSettings | None = None,
) -> OfflineResult:
    """Offline findings for a change: ``files`` maps each path to its new text, ``lines`` to
    its changed lines (None: report on whole files, as a repository scan does)."""
    settings = settings or RuleSettings()
    scan = EngineScan(
        {p: t for p, t in files.items() if PurePosixPath(p).suffix.lower() in ENGINE_SUFFIXES},
        extra_rules=settings.custom,
        disabled=settings.disabled,
    )
    if not scan.ran:
        logger.warning("the analysis engine (semgrep) is not installed: line rules only")
    # While Semgrep runs: the line rules, the secret scanner (and Bandit without the engine).
    own: dict[str, tuple[set[int] | None, list[Finding]]] = {}
    for path, text in files.items():
        wanted = set(lines[path]) if lines is not None and path in lines else None
        if lines is not None and wanted is None:
            continue
        covered = scan.ran and PurePosixPath(path).suffix.lower() in ENGINE_SUFFIXES
        own[path] = (wanted, analyze_file(path, text, wanted, engine_ran=covered))
    engine = scan.result()
    by_path: dict[str, list[Finding]] = {}
    for finding in engine.findings:
        by_path.setdefault(finding.path, []).append(finding)
    results: list[Finding] = []
    for path, (wanted, found) in own.items():
        source_lines = files[path].split("\n")
        for finding in by_path.get(path, ()):
            span = range(finding.start_line, finding.end_line + 1)
            if wanted is None or not wanted.isdisjoint(span):
                quote, _ = mask_secrets("\n".join(source_lines[span.start - 1 : span.stop - 1]),
                                        path=path)
                found.append(finding.model_copy(update={"quote": quote[:2000]}))
        found = [_configured(f, settings) for f in found if not _disabled(f, settings)]
        found = apply_suppressions(merge_findings(found), source_lines)
        results.extend(
            f.model_copy(update={"fingerprint": fingerprint(f, source_lines)}) for f in found
        )
    return OfflineResult(results, engine.errors, engine.ran)


def _rule_ids(finding: Finding) -> set[str]:
    return {part.removeprefix("static:") for part in finding.source.split("+")}


def _disabled(finding: Finding, settings: RuleSettings) -> bool:
    return bool(settings.disabled & _rule_ids(finding))


def _configured(finding: Finding, settings: RuleSettings) -> Finding:
    for rule_id in sorted(_rule_ids(finding)):
        if rule_id in settings.severity:
            return finding.model_copy(update={"severity": settings.severity[rule_id]})
    return finding
