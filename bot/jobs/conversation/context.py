"""What the model is shown to answer a question about a change: the lines the question names
(with their surroundings), then the change as the review sends it (the same chunks), each
block with its secrets masked, within a token budget. What does not fit is listed, so the
answer can say what it did not see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.analysis.repo_config import RepoConfig
from bot.analysis.secrets import mask_secrets
from bot.diff.chunking import Chunk
from bot.diff.context import printable, split_content
from bot.diff.parse import decode
from bot.diff.tokens import count_tokens
from bot.forges.base import ChangeSource

# Lines shown around a line a question names, on each side.
NAMED_CONTEXT_LINES = 20
# Files outside the change a question may bring in (read at the head commit).
MAX_NAMED_FILES = 4
# A file path, optionally with :line or :start-end ("app/db.py:40", "db.py:10-20").
_PATH = re.compile(
    r"(?<![\w/.-])(?P<path>(?:[\w.-]+/)*[\w-][\w.-]*\.(?P<ext>[A-Za-z0-9]{1,8}))"
    r"(?::(?P<start>\d+)(?:-(?P<end>\d+))?)?"
)
# Extensions that make a bare name outside the change worth looking up ("settings.py"),
# where "e.g." or "v1.2" are not.
_CODE_EXTENSIONS = frozenset({
    "py", "pyi", "js", "jsx", "ts", "tsx", "mjs", "cjs", "go", "rs", "java", "kt", "kts",
    "scala", "rb", "php", "cs", "c", "h", "cc", "cpp", "hpp", "m", "swift", "sh", "bash",
    "zsh", "ps1", "sql", "yml", "yaml", "json", "toml", "ini", "cfg", "conf", "xml", "html",
    "htm", "vue", "svelte", "tf", "hcl", "gradle", "properties", "env", "lock", "mod", "sum",
    "md", "txt", "rst", "dockerfile"
})
_LINES = re.compile(r"\blines?\s+(?P<start>\d+)(?:\s*(?:-|to|–|and)\s*(?P<end>\d+))?", re.I)


@dataclass(frozen=True)
class Named:
    """A place a question names: a file, and lines in it when it says which."""

    path: str
    start: int | None = None
    end: int | None = None


@dataclass
class QuestionContext:
    blocks: list[str] = field(default_factory=list)  # masked, in prompt order
    shown: list[str] = field(default_factory=list)  # paths the model sees
    left_out: list[str] = field(default_factory=list)  # what did not fit, in words
    tokens: int = 0
    budget_tokens: int = 0


def named_places(question: str, changed: Sequence[str]) -> list[Named]:
    """The files (and lines) ``question`` names, resolved against the changed paths: a
    full path, a path's tail ("db.py" for "app/db.py"), or a path outside the change."""
    found: list[Named] = []
    for match in _PATH.finditer(question):
        path = _resolve(match.group("path"), match.group("ext"), changed)
        if path is None:
            continue
        start = int(match.group("start")) if match.group("start") else None
        end = int(match.group("end")) if match.group("end") else start
        found.append(Named(path, start, end))
    lines = _LINES.search(question)
    if lines is not None:
        start = int(lines.group("start"))
        end = int(lines.group("end") or start)
        # "line 40" alone names a line of the one file named, or of a one-file change.
        files = {n.path for n in found} or (set(changed) if len(changed) == 1 else set())
        if len(files) == 1:
            found.append(Named(next(iter(files)), min(start, end), max(start, end)))
    unique: dict[tuple[str, int | None], Named] = {}
    for item in found:
        unique.setdefault((item.path, item.start), item)
    return list(unique.values())


def _resolve(candidate: str, extension: str, changed: Sequence[str]) -> str | None:
    candidate = candidate.removeprefix("./")
    if candidate in changed:
        return candidate
    tails = [p for p in changed if p.endswith("/" + candidate)]
    if len(tails) == 1:
        return tails[0]
    if tails or ".." in candidate.split("/") or candidate.startswith("/"):
        return None  # ambiguous, or not a path inside the repository
    if "/" in candidate or extension.lower() in _CODE_EXTENSIONS:
        return candidate  # maybe a file of the repository outside the change
    return None


async def gather(
    source: ChangeSource,
    *,
    head_sha: str,
    question: str,
    chunks: Sequence[Chunk],
    contents: Mapping[str, str],
    config: RepoConfig,
    budget_tokens: int,
    model: str | None,
) -> QuestionContext:
    """The blocks to show for ``question``, most relevant first, within ``budget_tokens``."""
    context = QuestionContext(budget_tokens=budget_tokens)
    changed = sorted({p for chunk in chunks for p in chunk.paths} | set(contents))
    named = named_places(question, changed)
    file_filter = config.file_filter()
    outside = 0
    for place in named:
        text = contents.get(place.path)
        if text is None:
            if outside >= MAX_NAMED_FILES or file_filter.skip_reason(place.path) is not None:
                continue
            outside += 1
            data = await source.read_file(place.path, head_sha)
            if data is None or file_filter.skip_reason(place.path, content=data) is not None:
                context.left_out.append(f"{place.path} (not found at the head, or not text)")
                continue
            text = decode(data)
        _add(context, _excerpt(place, text), place.path, budget_tokens, model)
    wanted = {n.path for n in named}
    ordered = [c for c in chunks if wanted & set(c.paths)] + [
        c for c in chunks if not wanted & set(c.paths)
    ]
    for chunk in ordered:
        _add(context, chunk.text, ", ".join(chunk.paths), budget_tokens, model)
    return context


def _add(
    context: QuestionContext, text: str, label: str, budget_tokens: int, model: str | None
) -> None:
    # A masker per block, as the review masks per chunk: the same text, the same prompt.
    masked, _ = mask_secrets(text)
    tokens = count_tokens(masked, model)
    paths = label.split(", ")
    if context.tokens + tokens > budget_tokens:
        for path in paths:
            # A file split over several chunks is left out once, "in part" if some was shown.
            item = f"part of {path}" if path in context.shown else path
            if item not in context.left_out and path not in context.left_out:
                context.left_out.append(item)
        return
    context.blocks.append(masked)
    context.tokens += tokens
    context.shown.extend(p for p in paths if p not in context.shown)


def _excerpt(place: Named, text: str) -> str:
    lines = split_content(text) or []
    if place.start is None:
        first, last = 1, min(len(lines), 2 * NAMED_CONTEXT_LINES)
        where = "its beginning"
    else:
        first = max(1, place.start - NAMED_CONTEXT_LINES)
        last = min(len(lines), (place.end or place.start) + NAMED_CONTEXT_LINES)
        where = f"lines {first}-{last}"
    body = "\n".join(f"{n:>6}  {lines[n - 1]}" for n in range(first, last + 1))
    return f"### File: {printable(place.path)} ({where}, at the head commit)\n{body}"
