"""Publishing one GitHub review exactly once, with every comment either on its line or in
the review body. SDK-free: the adapter in ``forge.py`` supplies the four calls.

GitHub refuses a whole review with an anonymous 422 when any comment cannot be placed
(docs.github.com/en/rest/pulls/reviews#create-a-review-for-a-pull-request). Comments are
checked against the diff first; if GitHub still refuses, the refused ones are isolated
with *pending* reviews (visible to nobody, deleted at once) and the review is posted
with the others, the refused ones moved into its body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.errors import RetryLater
from bot.forges import limits
from bot.forges.base import Change, ForgeRefused, InlineComment, ReviewResult, review_marker
from bot.forges.github.bisect import split_rejected
from bot.forges.github.payloads import review_payload
from bot.forges.review_text import file_diffs, moved_section, split_placeable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReviewInfo:
    id: int
    state: str  # "PENDING", "COMMENTED", ...
    body: str
    ours: bool


class ReviewApi(Protocol):
    async def list_reviews(self, number: int) -> list[ReviewInfo]: ...

    async def create_review(self, number: int, payload: dict[str, Any]) -> int: ...

    async def delete_pending_review(self, number: int, review_id: int) -> None: ...

    async def commented_keys(self, number: int) -> frozenset[str]: ...


class ReviewPublisher:
    def __init__(
        self, api: ReviewApi, *, max_probes: int, post_attempts: int, post_backoff_s: float
    ) -> None:
        self._api = api
        self._max_probes = max_probes
        self._post_attempts = post_attempts
        self._post_backoff_s = post_backoff_s

    async def existing(self, number: int, head_sha: str) -> int | None:
        """Our submitted review for ``head_sha``; our stale pending ones are deleted."""
        found = None
        for review in await self._api.list_reviews(number):
            if not review.ours:
                continue
            if review.state == "PENDING":
                await self._api.delete_pending_review(number, review.id)  # left by a crash
            elif review_marker(head_sha) in review.body:
                found = review.id
        return found

    async def publish(
        self,
        number: int,
        head_sha: str,
        comments: Sequence[InlineComment],
        body: str,
        change: Change,
    ) -> ReviewResult:
        existing = await self.existing(number, head_sha)
        if existing is not None:
            logger.info("review for %s already on #%s; not posting again", head_sha, number)
            return ReviewResult(str(existing), (), already_posted=True)
        # A finding commented by an earlier review whose job ended before recording it
        # (killed, timed out) is on the pull request already: never a second comment.
        if comments:
            on_pr = await self._api.commented_keys(number)
            comments = [c for c in comments if c.key not in on_pr]
            if not comments:
                return ReviewResult(None, ())
        if change.head_sha == head_sha:
            good, moved = split_placeable(comments, file_diffs(change.files))
        else:  # the PR moved on; GitHub still judges the lines against head_sha
            good, moved = list(comments), []
        try:
            review_id = await self._post(number, head_sha, good, moved, body)
        except ForgeRefused as exc:
            if exc.status != 422 or not good:
                raise
            logger.info("GitHub refused the review's comments; isolating the refused ones")
            good, refused = await split_rejected(
                good, lambda group: self._probe(number, head_sha, group),
                max_probes=self._max_probes,
            )
            moved = [*moved, *refused]
            review_id = await self._post(number, head_sha, good, moved, body)
        return ReviewResult(str(review_id), tuple(good), tuple(moved))

    async def _probe(self, number: int, head_sha: str, group: Sequence[InlineComment]) -> bool:
        """Would GitHub place these comments? Asked with a pending review nobody sees."""
        try:
            review_id = await self._api.create_review(
                number, review_payload(head_sha, group, None)
            )
        except ForgeRefused as exc:
            if exc.status == 422:
                return False
            raise
        await self._api.delete_pending_review(number, review_id)
        return True

    async def _post(
        self,
        number: int,
        head_sha: str,
        comments: Sequence[InlineComment],
        moved: Sequence[InlineComment],
        body: str,
    ) -> int:
        """Post the review; after a 5xx or timeout, look for it before trying again."""
        text = limits.fit(
            f"{review_marker(head_sha)}\n{body}{moved_section(moved)}", limits.GITHUB_BODY_MAX
        )
        payload = review_payload(head_sha, comments, text)
        for attempt in range(1, self._post_attempts + 1):
            try:
                return await self._api.create_review(number, payload)
            except RetryLater:
                if attempt == self._post_attempts:
                    raise
                await asyncio.sleep(self._post_backoff_s * attempt)
                existing = await self.existing(number, head_sha)
                if existing is not None:
                    return existing
        raise AssertionError("unreachable")
