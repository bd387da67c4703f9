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
from typing import Any

from bot.analysis.engine import EngineRule, EngineScan, engine_covers
from bot.analysis.merge import fingerprint, merge_findings
from bot.analysis.secrets import mask_secrets
from bot.analysis.static import analyze_file, is_python, languages_for
from bot.analysis.suppressions import apply_suppressions
from bot.findings import Finding, Severity

logger = logging.getLogger(__name__)


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
    notes: list[str] = field(default_factory=list)  # for the summary: what did not run


def analyze_change(
    files: Mapping[str, str],
    lines: Mapping[str, Collection[int]] | None = None,
    settings: RuleSettings | None = None,
    *,
    engine: str | None = None,
) -> OfflineResult:
    """Offline findings for a change: ``files`` maps each path to its new text, ``lines`` to
    its changed lines (None: report on whole files, as a repository scan does); ``engine``
    the Semgrep binary (None: the installed one, see engine.find_semgrep)."""
    settings = settings or RuleSettings()
    scan = EngineScan(
        {p: t for p, t in files.items() if engine_covers(p)},
        extra_rules=settings.custom,
        disabled=settings.disabled,
        binary=engine,
    )
    notes = [] if scan.ran else [_engine_missing(files)]
    if not scan.ran:
        logger.warning("the analysis engine (semgrep) is not installed: line rules only")
    # While Semgrep runs: the line rules, the secret scanner (and Bandit without the engine).
    own: dict[str, tuple[set[int] | None, list[Finding]]] = {}
    for path, text in files.items():
        wanted = set(lines[path]) if lines is not None and path in lines else None
        if lines is not None and wanted is None:
            continue
        covered = scan.ran and engine_covers(path)
        own[path] = (wanted, analyze_file(path, text, wanted, engine_ran=covered))
    scanned = scan.result()
    for path in scanned.unparsed & own.keys():
        wanted = own[path][0]
        own[path] = (wanted, analyze_file(path, files[path], wanted, engine_ran=False))
    by_path: dict[str, list[Finding]] = {}
    for finding in scanned.findings:
        by_path.setdefault(finding.path, []).append(finding)
    results: list[Finding] = []
    for path, (wanted, found) in own.items():
        source_lines = files[path].split("\n")
        reported = [f for f in by_path.get(path, ())
                    if wanted is None or not wanted.isdisjoint(range(f.start_line, f.end_line + 1))]
        if reported:
            # Masked once per file, not once per finding (masking keeps line breaks): a file
            # with a source and a sink in every function has hundreds of findings.
            masked = mask_secrets(files[path], path=path)[0].split("\n")
        for finding in reported:
            quote = "\n".join(masked[finding.start_line - 1 : finding.end_line])
            found.append(finding.model_copy(update={"quote": quote[:2000]}))
        found = [_configured(f, settings) for f in found if not _disabled(f, settings)]
        found = apply_suppressions(merge_findings(found), source_lines)
        results.extend(
            f.model_copy(update={"fingerprint": fingerprint(f, source_lines)}) for f in found
        )
    return OfflineResult(results, scanned.errors, scanned.ran, [n for n in notes if n])


def _engine_missing(files: Mapping[str, str]) -> str:
    """One line for the summary when Semgrep is not installed: which files its rules would
    have read, and which line rules ran there instead (empty when no file was the engine's)."""
    covered = [path for path in files if engine_covers(path)]
    if not covered:
        return ""
    tables = sorted({language.name for path in covered
                     for language in languages_for(path, files[path])})
    python = " and Bandit" if any(is_python(path) for path in covered) else ""
    instead = f"line rules ({', '.join(tables)}){python}" if tables else "no line rules"
    return (
        f"The analysis engine (Semgrep) is not installed, so its rules did not run on "
        f"{len(covered)} file(s); {instead} ran there instead, which find less. Install it "
        "with the project's setup (scripts/test or scripts/demo) or put semgrep on PATH."
    )


def _rule_ids(finding: Finding) -> set[str]:
    return {part.removeprefix("static:") for part in finding.source.split("+")}


def _disabled(finding: Finding, settings: RuleSettings) -> bool:
    return bool(settings.disabled & _rule_ids(finding))


def _configured(finding: Finding, settings: RuleSettings) -> Finding:
    for rule_id in sorted(_rule_ids(finding)):
        if rule_id in settings.severity:
            return finding.model_copy(update={"severity": settings.severity[rule_id]})
    return finding
