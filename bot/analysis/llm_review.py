"""The model's part of a review: chunk the change, send chunks in parallel (bounded), and
turn answers into findings, keeping only what the model could have seen.

Every text leaves the machine with secrets masked. A chunk whose answer is unusable is
recorded with its reason, never silently dropped; a spent budget stops the model part and
makes the audit partial while the offline analyzers' findings still count.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pathspec

from bot.analysis.answer import ModelAnswer, ModelFinding
from bot.analysis.prompts import PROMPT_VERSION, shared_prompt, system_prompt, user_prompt
from bot.analysis.repo_config import RepoConfig
from bot.analysis.sanitize import sanitize_suggestion, sanitize_text, sanitize_title
from bot.analysis.secrets import mask_secrets
from bot.analysis.verify import quote_is_in
from bot.diff.chunking import Chunk, build_chunks, sending_order
from bot.diff.context import split_content
from bot.diff.parse import FileDiff
from bot.errors import BudgetExceeded, LLMError
from bot.findings import Finding
from bot.llm.types import CompletionRequest, CompletionResult

log = logging.getLogger(__name__)

# A chunk is at most this many tokens even on a 1M-token model: answers stay focused and a
# re-push re-sends less. The rest of the window is kept for the prompt and the answer.
CHUNK_TOKEN_CAP = 12_000
PROMPT_RESERVE_TOKENS = 3_000
# The answer's budget grows with the files of a chunk (each may hold findings), within the
# smallest output limit among the presets' default models (DeepSeek's 8K).
ANSWER_TOKENS_BASE = 1_024
ANSWER_TOKENS_PER_FILE = 256
ANSWER_TOKENS_MAX = 8_192


def answer_tokens(chunk: Chunk) -> int:
    return min(ANSWER_TOKENS_MAX, ANSWER_TOKENS_BASE + ANSWER_TOKENS_PER_FILE * len(chunk.paths))


class CompletionService(Protocol):
    """What the reviewer needs of `bot.llm`: one call, and the model's window."""

    @property
    def provider(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def context_window(self) -> int: ...

    async def complete(self, request: CompletionRequest) -> CompletionResult: ...


@dataclass
class LLMStats:
    model: str | None = None
    chunks_total: int = 0
    chunks_sent: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (chunk id, reason)
    split_on_length: int = 0  # answers cut at the output limit whose chunk was split
    partial_answers: int = 0  # cut answers that could not be split (kept as far as they go)
    dropped: dict[str, int] = field(default_factory=dict)
    partial_reason: str | None = None

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


class LLMReviewer:
    def __init__(
        self,
        service: CompletionService,
        *,
        concurrency: int = 8,
        language: str = "en",
        task_id: str | None = None,
        project_id: int | None = None,
        installation_id: int | None = None,
    ) -> None:
        self.service = service
        self.concurrency = concurrency
        self.language = language
        self.ids = {
            "task_id": task_id,
            "project_id": project_id,
            "installation_id": installation_id,
        }

    def budget_tokens(self) -> int:
        window = int(self.service.context_window)
        return max(
            1_000, min(CHUNK_TOKEN_CAP, window - PROMPT_RESERVE_TOKENS - ANSWER_TOKENS_MAX)
        )

    def halves(
        self, chunk: Chunk, diffs: Mapping[str, FileDiff], contents: Mapping[str, str]
    ) -> list[Chunk] | None:
        """``chunk``'s content as two or more smaller chunks (its files in two halves, or a
        single file's hunks in two halves); None when it is one hunk and cannot split."""
        covered: dict[str, set[int]] = {}
        for ref in chunk.hunks:
            covered.setdefault(ref.path, set()).add(ref.hunk_index)
        files = [
            dataclasses.replace(diffs[p], hunks=tuple(
                h for i, h in enumerate(diffs[p].hunks) if i in covered[p]
            ))
            for p in chunk.paths if p in diffs
        ]
        if len(files) > 1:
            groups = [files[: len(files) // 2], files[len(files) // 2 :]]
        elif files and len(files[0].hunks) > 1:
            hunks = files[0].hunks
            groups = [[dataclasses.replace(files[0], hunks=part)]
                      for part in (hunks[: len(hunks) // 2], hunks[len(hunks) // 2 :])]
        else:
            return None
        budget = self.budget_tokens()
        model = self.service.model
        return [c for g in groups for c in build_chunks(g, contents, budget_tokens=budget,
                                                         model=model)]

    def chunks(self, diffs: Mapping[str, FileDiff], contents: Mapping[str, str]) -> list[Chunk]:
        # Packed to the budget: a push is reviewed incrementally (only the files changed
        # since the last audited head), so one file per chunk would buy little cache and
        # cost the fixed part of a call per file.
        built = build_chunks(
            [diffs[p] for p in sorted(diffs)],
            contents,
            budget_tokens=self.budget_tokens(),
            model=self.service.model,
        )
        return sending_order(built)

    async def review(
        self,
        diffs: Mapping[str, FileDiff],
        contents: Mapping[str, str],
        *,
        config: RepoConfig,
        hints: Sequence[Finding],
        progress: Callable[..., Awaitable[None]] | None = None,
        learnings: Sequence[tuple[str, str]] = (),
    ) -> tuple[list[Finding], LLMStats]:
        """``learnings``: the repository's notes ``(glob, text)`` from dismissals, newest
        first; those matching this review's paths are shown (bot.store.learnings)."""
        # Seconds of CPU on a large PR (tree-sitter, token counts): off the event loop, so
        # the worker's other jobs, its heartbeat and progress events keep going meanwhile.
        chunks = await asyncio.to_thread(self.chunks, diffs, contents)
        stats = LLMStats(model=f"{self.service.provider}/{self.service.model}")
        stats.chunks_total = len(chunks)
        system = system_prompt(config.review.language)
        # Said once per review and the same in every call: part of the cached prefix.
        shared, _ = mask_secrets(shared_prompt(
            _instructions(config, list(diffs)), _notes(learnings, list(diffs))
        ))
        semaphore = asyncio.Semaphore(self.concurrency)
        budget_spent = asyncio.Event()
        findings: list[Finding] = []
        done = 0

        async def ask(chunk: Chunk) -> CompletionResult | None:
            async with semaphore:
                if budget_spent.is_set():
                    stats.failed.append((chunk.id, f"{_paths(chunk)}: not sent, budget spent"))
                    return None
                # A masker per chunk, not per review: placeholder numbers then depend on
                # the chunk alone, so its prompt (and cache key) is the same on every run.
                masked, _ = mask_secrets(chunk.text)
                chunk_hints = [h for h in hints if h.path in chunk.paths]
                request = CompletionRequest(
                    system=system,
                    shared=shared,
                    user=user_prompt(masked, hints=chunk_hints),
                    schema=ModelAnswer,
                    max_output_tokens=answer_tokens(chunk),
                    temperature=0.0,
                    prompt_version=PROMPT_VERSION,
                    **self.ids,  # type: ignore[arg-type]
                )
                try:
                    return await self.service.complete(request)
                except BudgetExceeded as exc:
                    budget_spent.set()
                    stats.failed.append((chunk.id, f"{_paths(chunk)}: not sent, {exc.message}"))
                    return None
                except LLMError as exc:
                    stats.failed.append((chunk.id, f"{_paths(chunk)}: {exc.reason}"))
                    return None

        async def one(chunk: Chunk) -> None:
            nonlocal done
            result = await ask(chunk)
            if result is None:
                return
            stats.chunks_sent += 1
            stats.cache_hits += int(result.cache_hit)
            stats.input_tokens += result.usage.input_tokens
            stats.output_tokens += result.usage.output_tokens
            stats.cached_tokens += result.usage.cached_tokens
            stats.cost_usd += result.cost_usd
            stats.model = f"{result.provider}/{result.model}"
            if result.truncated:
                # Cut at the output limit: findings past the cut are lost, so the chunk's
                # halves are asked again instead (each with room for its own answer).
                parts = await asyncio.to_thread(self.halves, chunk, diffs, contents)
                if parts:
                    stats.split_on_length += 1
                    stats.chunks_total += len(parts) - 1
                    await asyncio.gather(*(one(part) for part in parts))
                    return
                stats.partial_answers += 1
            answer = result.parsed
            if isinstance(answer, ModelAnswer):
                source = f"llm:{result.provider}/{result.model}"
                for item in answer.findings:
                    finding = _accept(item, chunk, contents, source, stats)
                    if finding is not None:
                        findings.append(finding)
            done += 1
            if progress is not None:
                await progress(stage="llm", chunks_done=done, chunks_total=stats.chunks_total)

        await asyncio.gather(*(one(chunk) for chunk in chunks))
        if budget_spent.is_set():
            stats.partial_reason = "the LLM budget was spent; offline analyzers still ran"
        elif stats.failed and stats.chunks_sent == 0:
            stats.partial_reason = f"the model provider failed ({stats.failed[0][1]})"
        elif stats.failed:
            stats.partial_reason = (
                f"{len(stats.failed)} of {stats.chunks_total} chunks could not be analysed by "
                "the model"
            )
        findings.sort(key=lambda f: (f.path, f.start_line, f.end_line, f.title))
        return findings, stats


def _accept(
    item: ModelFinding,
    chunk: Chunk,
    contents: Mapping[str, str],
    source: str,
    stats: LLMStats,
) -> Finding | None:
    """A model finding becomes ours only if its path and lines were shown and its quote is
    the code on those lines; anything else is counted and discarded."""
    shown = chunk.shown_lines.get(item.path)
    if not shown:
        stats.drop("naming a file not shown")
        return None
    end = item.end_line or item.start_line
    start, end = min(item.start_line, end), max(item.start_line, end)
    if start not in shown and end not in shown:
        stats.drop("on lines not shown")
        return None
    file_lines = split_content(contents.get(item.path, "")) or []
    shown_code = "\n".join(file_lines[n - 1] for n in sorted(shown) if 0 < n <= len(file_lines))
    if not quote_is_in(item.quote, shown_code):
        stats.drop("whose quote is not in the code")
        return None
    suggestion = sanitize_suggestion(item.suggestion)
    return Finding(
        path=item.path,
        start_line=start,
        end_line=end,
        side="new",
        severity=item.severity,
        category=item.category,
        cwe=item.cwe,
        title=sanitize_title(item.title) or "Finding",
        message=sanitize_text(item.message),
        suggestion=suggestion,
        confidence=item.confidence,
        source=source,
        rule_id=None,
        quote=item.quote,
    )


def _paths(chunk: Chunk) -> str:
    paths = list(chunk.paths)
    return ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def _instructions(config: RepoConfig, paths: Sequence[str]) -> list[tuple[str, str]]:
    """The maintainers' path instructions that apply to any file of this review."""
    found: list[tuple[str, str]] = []
    for glob, text in config.path_instructions.items():
        spec = pathspec.GitIgnoreSpec.from_lines([glob])
        if any(spec.match_file(p) for p in paths):
            found.append((glob, text))
    return found


# A review shows at most this many notes from dismissals, newest first, and this much text.
NOTES_MAX = 12
NOTES_CHARS = 2_000


def _notes(notes: Sequence[tuple[str, str]], paths: Sequence[str]) -> list[tuple[str, str]]:
    """The repository's notes ``(glob, text)`` whose glob matches a path of this review."""
    chosen: list[tuple[str, str]] = []
    size = 0
    for glob, text in notes:
        try:
            spec = pathspec.GitIgnoreSpec.from_lines([glob])
        except (ValueError, TypeError):
            continue
        if not any(spec.match_file(p) for p in paths):
            continue
        if len(chosen) >= NOTES_MAX or size + len(text) > NOTES_CHARS:
            break
        chosen.append((glob, text))
        size += len(text)
    return chosen
