"""The forge interface: plain dataclasses every adapter returns and accepts.

Stages exchange these, never SDK objects. A read side (:class:`ChangeSource`: GitHub,
GitLab, a local repository, a ZIP archive) and a write side (:class:`Publisher`: GitHub
and GitLab only); :class:`Forge` is both.

Patches follow GitHub's ``patch`` field: the hunks of one file, starting at the first
``@@`` line, without the ``diff --git``/``---``/``+++`` headers. ``patch=None`` means no
textual diff is available (binary, too large); ``patch=""`` means an empty textual change
(an empty new file, a mode change, a pure rename).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, Protocol, runtime_checkable

from bot.errors import ForgeError

FileStatus = Literal["added", "modified", "removed", "renamed"]
Side = Literal["new", "old"]
CheckStatus = Literal["queued", "in_progress", "completed"]
CheckConclusion = Literal[
    "success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"
]
AnnotationLevel = Literal["notice", "warning", "failure"]

# Hidden markers that let a retried job find what an earlier attempt already posted.
SUMMARY_MARKER = "<!-- auditbot:summary -->"
REVIEW_MARKER_PREFIX = "<!-- auditbot:review "  # followed by the head SHA and " -->"
COMMENT_MARKER_PREFIX = "<!-- auditbot:finding "  # followed by the comment key and " -->"
CHECK_NAME = "auditbot"
CONFIG_PATH = ".auditbot.yml"
# Git's all-zero object id: a push's ``before`` for a branch's first push, its ``after``
# when the branch is deleted.
ZERO_SHA: Final = "0" * 40


class ForgeRefused(ForgeError):
    """The forge refused a request with a 4xx that retrying will not change."""

    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


def review_marker(head_sha: str) -> str:
    return f"{REVIEW_MARKER_PREFIX}{head_sha} -->"


def comment_marker(key: str) -> str:
    return f"{COMMENT_MARKER_PREFIX}{key} -->"


def is_null_sha(sha: str | None) -> bool:
    return not sha or set(sha) == {"0"}


@dataclass(frozen=True)
class ChangedFile:
    """One file of a change. ``old_path`` is set for renames only."""

    path: str
    status: FileStatus
    old_path: str | None = None
    patch: str | None = None
    additions: int = 0
    deletions: int = 0
    binary: bool = False
    sha: str | None = None  # blob id at head, when the forge tells it


@dataclass(frozen=True)
class SkippedFile:
    """A file the adapter could not give a patch for, with a reason a person can read."""

    path: str
    reason: str


@dataclass(frozen=True)
class Change:
    """The files changed between ``base_sha`` and ``head_sha``.

    ``truncated`` says, in words for the summary, why the file list is incomplete
    ("the pull request has more than 3000 files"), else None. ``start_sha`` is GitLab's
    third SHA (the target branch head the MR version was made against); it equals
    ``base_sha`` elsewhere.
    """

    base_sha: str
    head_sha: str
    files: tuple[ChangedFile, ...]
    skipped: tuple[SkippedFile, ...] = ()
    truncated: str | None = None
    start_sha: str | None = None


@dataclass(frozen=True)
class OpenPull:
    """An open pull (merge) request as the forge lists it."""

    number: int
    head_sha: str
    head_ref: str
    base_sha: str | None  # None: the forge's list does not name it (GitLab)
    base_ref: str
    author: str | None
    draft: bool


@dataclass(frozen=True)
class ChangeTarget:
    """What to fetch: a pull/merge request by ``number``, or two refs of the bound repository.

    Adapters are bound to one repository when built; the target names the change inside it.
    With ``number`` set, ``base``/``head`` are ignored by GitHub and GitLab. A local
    repository takes ``base``/``head`` (defaults: the upstream, else ``HEAD~1``; ``HEAD``).
    """

    number: int | None = None
    base: str | None = None
    head: str | None = None


class Tree(list[str]):
    """Every file path (blobs, recursively) at a ref. A list, so that callers wanting only
    the paths use it as one; ``truncated`` says in words why it is incomplete (GitHub lists
    at most 100,000 entries or 7 MB in one recursive listing), else None."""

    def __init__(self, paths: Iterable[str] = (), *, truncated: str | None = None) -> None:
        super().__init__(paths)
        self.truncated = truncated


@dataclass(frozen=True)
class InlineComment:
    """A review comment on ``line`` (1-based) of ``side``; ``start_line`` makes a range.

    ``key`` is the finding's fingerprint: adapters embed it in a hidden marker so that a
    retried job recognises comments it already posted.
    """

    path: str
    line: int
    body: str
    key: str
    side: Side = "new"
    start_line: int | None = None


@dataclass(frozen=True)
class ReviewResult:
    """What became of a review: comments placed on lines, and comments the forge refused
    that were moved into the review body or a general note instead (never lost)."""

    review_id: str | None
    posted: tuple[InlineComment, ...]
    moved_to_body: tuple[InlineComment, ...] = ()
    already_posted: bool = False  # a review of ours for this head SHA existed; nothing sent


@dataclass(frozen=True)
class Annotation:
    """A check-run annotation; GitLab statuses have none (the report page shows them)."""

    path: str
    start_line: int
    end_line: int
    level: AnnotationLevel
    message: str
    title: str | None = None
    raw_details: str | None = None


@dataclass(frozen=True)
class CheckUpdate:
    """One step of the check run (GitHub) / commit status (GitLab) lifecycle."""

    status: CheckStatus
    title: str = ""
    summary: str = ""
    conclusion: CheckConclusion | None = None
    text: str = ""
    annotations: tuple[Annotation, ...] = ()
    details_url: str | None = None


@runtime_checkable
class ChangeSource(Protocol):
    """Read side: every adapter, including local git and ZIP archives."""

    async def fetch_change(self, target: ChangeTarget) -> Change:
        """The files of a pull/merge request or of ``target.base``..``target.head``."""
        ...

    async def compare(self, base: str, head: str) -> Change:
        """Files changed from ``base`` to ``head``; ``base`` may be all zeros or gone."""
        ...

    async def read_file(self, path: str, ref: str) -> bytes | None:
        """The file's bytes at ``ref``, None when it does not exist there."""
        ...

    async def read_repo_config(self, ref: str) -> str | None:
        """``.auditbot.yml`` at ``ref`` (callers pass the base SHA, never the PR head)."""
        ...

    async def list_tree(self, ref: str) -> Tree:
        """Every file path (blobs, recursively) at ``ref``."""
        ...

    async def close(self) -> None:
        """Release clients and connections."""
        ...


@runtime_checkable
class Publisher(Protocol):
    """Write side: GitHub and GitLab."""

    async def publish_review(
        self,
        target: ChangeTarget,
        head_sha: str,
        comments: tuple[InlineComment, ...] | list[InlineComment],
        body: str,
    ) -> ReviewResult:
        """Post one review for ``head_sha``; a second call for the same SHA posts nothing."""
        ...

    async def upsert_summary(self, target: ChangeTarget, body: str) -> str:
        """Create or edit in place the one summary comment; returns its id."""
        ...

    async def create_check(
        self, head_sha: str, update: CheckUpdate, target: ChangeTarget | None = None,
        *, key: str | None = None,
    ) -> str:
        """Start the ``auditbot`` check run / commit status; returns an id for updates.
        ``key`` (the task id) marks the run so that a retry can find it again."""
        ...

    async def update_check(self, check_id: str, update: CheckUpdate) -> None: ...


@runtime_checkable
class Forge(ChangeSource, Publisher, Protocol):
    """A forge that can both read changes and publish results."""

    async def pull_head(self, number: int) -> str:
        """The pull (merge) request's head SHA as the forge says now: the one authority on
        which review is current (deliveries and jobs may run in any order, force pushes
        break any ordering by ``before``/``after``)."""
        ...
