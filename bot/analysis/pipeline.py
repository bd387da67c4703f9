"""The review pipeline: fetch the change, filter, parse, analyse (offline analyzers and the
model), merge, fingerprint and place findings. Publishing and storing are the caller's
(a job, or `auditbot review`); this module returns plain data."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.analysis.conclusion import Verdict, decide
from bot.analysis.custom_rules import RULES_FOLDER, CustomRules, load_custom_rules
from bot.analysis.llm_review import LLMReviewer, LLMStats
from bot.analysis.merge import fingerprint, merge_findings
from bot.analysis.offline import RuleSettings, analyze_change
from bot.analysis.placement import PlacedFinding, place_findings
from bot.analysis.repo_config import RepoConfig, load_repo_config
from bot.diff.context import split_content
from bot.diff.filters import FileFilter
from bot.diff.parse import FileDiff, decode, parse_patch
from bot.errors import AuditbotError
from bot.findings import Finding
from bot.forges.base import Change, ChangedFile, ChangeSource, ChangeTarget

log = logging.getLogger(__name__)

ProgressFn = Callable[[dict[str, Any]], Awaitable[None]]
FILE_READ_CONCURRENCY = 16


@dataclass(frozen=True)
class ReviewRequest:
    target: ChangeTarget
    config: RepoConfig | None = None  # None: read `.auditbot.yml` at the change's base
    config_errors: tuple[str, ...] = ()
    false_positives: frozenset[str] = frozenset()  # fingerprints people marked
    only_paths: frozenset[str] | None = None  # incremental: analyse just these files
    allowed_models: tuple[str, ...] = ()
    expected_head: str | None = None  # the SHA the job was for; a different head is stale
    # The repository's notes from dismissals, (glob, text), newest first (bot.store.learnings).
    learnings: tuple[tuple[str, str], ...] = ()


class StaleHead(AuditbotError):
    """The pull request's head is not the commit the job was for (a newer push, or a forge
    that has not recorded the pushed commit yet)."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"the pull request's head is {actual[:12]}, not {expected[:12]}")
        self.expected = expected
        self.actual = actual


@dataclass
class ReviewOutcome:
    change: Change
    config: RepoConfig
    config_errors: list[str]
    diffs: dict[str, FileDiff]
    contents: dict[str, str]
    placed: list[PlacedFinding]
    suppressed: list[Finding]
    skipped: list[tuple[str, str]]
    llm: LLMStats
    verdict: Verdict
    files_reviewed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # for the summary, e.g. the engine missing

    @property
    def open_findings(self) -> list[Finding]:
        return [p.finding for p in self.placed]


class ReviewPipeline:
    """Runs one audit over a change source; stateless between runs."""

    def __init__(
        self,
        source: ChangeSource,
        *,
        llm: LLMReviewer | None = None,
        progress: ProgressFn | None = None,
        engine: str | None = None,
        analyzer_slots: asyncio.Semaphore | None = None,
    ) -> None:
        self.source = source
        self.llm = llm
        self._progress = progress
        self._engine = engine  # the Semgrep binary; None: the installed one
        # Analyzer runs (Semgrep's subprocess, bandit) at once in this process: a burst of
        # jobs waits here instead of starting one Semgrep each and exhausting memory.
        self._analyzer_slots = analyzer_slots

    async def progress(self, **event: Any) -> None:
        if self._progress is not None:
            await self._progress(event)

    async def run(self, request: ReviewRequest) -> ReviewOutcome:
        change = await self.source.fetch_change(request.target)
        if request.expected_head and change.head_sha != request.expected_head:
            raise StaleHead(request.expected_head, change.head_sha)
        await self.progress(stage="fetched", files_total=len(change.files))
        config, config_errors = request.config, list(request.config_errors)
        if config is None:
            text = await self.source.read_repo_config(change.base_sha)
            config, config_errors = load_repo_config(text, allowed_models=request.allowed_models)

        diffs, contents, skipped = await self._prepare(change, config, request.only_paths)
        await self.progress(stage="prepared", files_total=len(diffs), skipped=len(skipped))

        settings, rule_errors = await self._rule_settings(config, change.base_sha)
        async with self._analyzer_slots or contextlib.nullcontext():
            static, engine_errors, notes = await asyncio.to_thread(
                _run_static, diffs, contents, settings, self._engine
            )
        config_errors += rule_errors + engine_errors
        await self.progress(stage="static", findings=len(static))

        llm_findings: list[Finding] = []
        stats = LLMStats()
        if self.llm is not None and diffs:
            llm_findings, stats = await self.llm.review(
                diffs, contents, config=config, hints=static, progress=self.progress,
                learnings=request.learnings,
            )
        merged = merge_findings([*static, *llm_findings])
        fingerprinted = [_with_fingerprint(f, contents) for f in merged]
        suppressed = [f for f in fingerprinted if f.fingerprint in request.false_positives]
        active = [f for f in fingerprinted if f.fingerprint not in request.false_positives]

        placed = place_findings(
            active,
            diffs,
            min_severity=config.review.min_severity,
            max_comments=config.review.max_comments,
        )
        verdict = decide(
            active,
            fail_on=config.review.fail_on,
            partial_reason=stats.partial_reason,
        )
        await self.progress(stage="analysed", findings=len(active))
        return ReviewOutcome(
            change=change,
            config=config,
            config_errors=config_errors,
            diffs=diffs,
            contents=contents,
            placed=placed,
            suppressed=suppressed,
            skipped=skipped,
            llm=stats,
            verdict=verdict,
            files_reviewed=len(diffs),
            notes=notes,
        )

    async def _rule_settings(
        self, config: RepoConfig, base_sha: str
    ) -> tuple[RuleSettings, list[str]]:
        """The repository's rule choices; its own rules (read at the base) when it asks."""
        custom: CustomRules = ()
        errors: list[str] = []
        # A full scan has no base (tree:empty): its rules come from the scanned ref's config.
        if config.rules.custom and base_sha and not base_sha.startswith("tree:"):
            try:
                custom, errors = await load_custom_rules(self.source, base_sha)
            except AuditbotError as error:
                errors = [f"{RULES_FOLDER}: could not be read ({error})"]
        settings = RuleSettings(
            disabled=frozenset(config.rules.disable),
            severity=dict(config.rules.severity),
            custom=custom,
        )
        return settings, errors

    async def prepare(
        self, change: Change, config: RepoConfig, only_paths: frozenset[str] | None = None
    ) -> tuple[dict[str, FileDiff], dict[str, str], list[tuple[str, str]]]:
        """What a review of ``change`` reads (also what `/audit ask` shows the model)."""
        return await self._prepare(change, config, only_paths)

    async def _prepare(
        self, change: Change, config: RepoConfig, only_paths: frozenset[str] | None
    ) -> tuple[dict[str, FileDiff], dict[str, str], list[tuple[str, str]]]:
        """Filter by path, read the head contents, filter by content, parse the patches."""
        file_filter = FileFilter(
            include=list(config.paths.include), exclude=list(config.paths.exclude)
        )
        skipped = [(s.path, s.reason) for s in change.skipped]
        candidates: list[ChangedFile] = []
        for changed in change.files:
            if only_paths is not None and changed.path not in only_paths:
                continue
            if changed.status == "removed":
                continue  # nothing at head to audit; removed lines are not findings
            reason = file_filter.skip_reason(changed.path, binary=changed.binary)
            if reason is None and changed.patch is None:
                reason = "not reviewable: no patch"
            if reason is not None:
                skipped.append((changed.path, reason))
            else:
                candidates.append(changed)

        semaphore = asyncio.Semaphore(FILE_READ_CONCURRENCY)

        async def read(changed: ChangedFile) -> bytes | None:
            async with semaphore:
                return await self.source.read_file(changed.path, change.head_sha)

        raw = await asyncio.gather(*(read(c) for c in candidates))
        diffs: dict[str, FileDiff] = {}
        contents: dict[str, str] = {}
        for changed, data in zip(candidates, raw, strict=True):
            reason = (
                file_filter.skip_reason(changed.path, content=data) if data is not None else None
            )
            if reason is not None:
                skipped.append((changed.path, reason))
                continue
            # The adapters already rebuilt every patch the forge left out: an empty one
            # with no changed lines is a file with nothing to show (an empty new file).
            diff = parse_patch(
                changed.path, changed.patch, old_path=changed.old_path, status=changed.status,
                changes=changed.additions + changed.deletions,
            )
            if diff.no_patch_reason or diff.binary:
                skipped.append((changed.path, diff.no_patch_reason or "binary file"))
                continue
            if not diff.hunks:
                continue  # a pure rename or mode change: no lines to audit
            diffs[changed.path] = diff
            contents[changed.path] = decode(data) if data is not None else ""
        return diffs, contents, sorted(skipped)


def _run_static(
    diffs: Mapping[str, FileDiff], contents: Mapping[str, str], settings: RuleSettings,
    engine: str | None,
) -> tuple[list[Finding], list[str], list[str]]:
    """The offline analyzers over every changed file at once (the engine runs once per job),
    whole files read, findings kept on the added lines; the engine's errors, and notes for
    the summary (the engine not installed)."""
    lines = {path: diff.added_lines() for path, diff in diffs.items()}
    files = {path: contents[path] for path, added in lines.items() if added and contents.get(path)}
    result = analyze_change(files, lines, settings, engine=engine)
    return (result.findings, [f"offline analysis: {error}" for error in result.errors],
            result.notes)


def _with_fingerprint(finding: Finding, contents: Mapping[str, str]) -> Finding:
    lines = split_content(contents.get(finding.path, "")) or []
    code = lines[finding.start_line - 1 : finding.end_line]
    return finding.model_copy(update={"fingerprint": fingerprint(finding, code)})
