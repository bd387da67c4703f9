"""Publishing a review on a GitLab merge request: one inline discussion per comment that
GitLab can place, a general note for each one it cannot, then the review's marker in the
summary note. SDK-free: the adapter in ``forge.py`` supplies the calls.

GitLab has no review object to post atomically, so the markers make it resumable: a job
that crashed halfway skips the comments whose key is already on the MR, and the summary
note's reviewed-head marker, set last, says the whole review is there. The review's body
is not posted: next to the summary note it only repeated, at every push, that there are
findings (the summary note, kept up to date, says which).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.forges import limits
from bot.forges.base import InlineComment, ReviewResult, comment_marker, review_marker
from bot.forges.gitlab.position import Refs, position
from bot.forges.review_text import where


class MergeRequestApi(Protocol):
    async def our_note_bodies(self, number: int) -> list[str]: ...

    async def version_refs(self, number: int) -> Refs: ...

    async def file_diffs(self, number: int) -> list[dict[str, Any]]: ...

    async def start_discussion(
        self, number: int, comment: InlineComment, where_to: dict[str, Any]
    ) -> bool: ...

    async def post_note(self, number: int, body: str, key: str) -> None: ...

    async def mark_reviewed(self, number: int, head_sha: str) -> None: ...


async def publish(
    api: MergeRequestApi,
    number: int,
    head_sha: str,
    comments: Sequence[InlineComment],
    body: str,
) -> ReviewResult:
    done = "\n".join(await api.our_note_bodies(number))
    marker = review_marker(head_sha)
    if marker in done:
        return ReviewResult(None, (), already_posted=True)
    refs = await api.version_refs(number)
    diffs = {d["new_path"]: d for d in await api.file_diffs(number)}
    posted: list[InlineComment] = []
    moved: list[InlineComment] = []
    for comment in comments:
        key = comment_marker(comment.key)
        if key in done:  # posted by an attempt that crashed
            posted.append(comment)
            continue
        item = diffs.get(comment.path)
        where_to = (
            position(comment, item.get("diff") or "", item["old_path"], refs) if item else None
        )
        if where_to is not None and await api.start_discussion(number, comment, where_to):
            posted.append(comment)
            continue
        moved.append(comment)
        text = f"{key}\n**{where(comment)}**\n\n{comment.body}"
        await api.post_note(number, limits.fit(text, limits.GITLAB_NOTE_MAX), key)
    await api.mark_reviewed(number, head_sha)
    return ReviewResult(None, tuple(posted), tuple(moved))
