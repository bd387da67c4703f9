"""Conversation on GitHub through githubkit: the threads of our review comments (their first
comment and the replies, an answer inside the thread), the pull request's author, and
answers posted once.

A mixin of :class:`bot.forges.github.forge.GitHubForge`, like ``feedback``. GitHub threads
replies under the thread's first comment (``in_reply_to_id``) and refuses replies to replies
(docs.github.com/rest/pulls/comments#create-a-reply-for-a-review-comment), so a thread is
named by its first comment's id.
"""

from __future__ import annotations

from typing import Any

from bot.errors import ForgeError, NotFound
from bot.forges import limits
from bot.forges.base import ChangeTarget
from bot.forges.conversation import FindingThread, ThreadNote
from bot.forges.feedback import marker_key
from bot.forges.github.plumbing import GitHubPlumbing

_PER_PAGE = 100


class GitHubConversation(GitHubPlumbing):
    """A mixin of :class:`GitHubForge` (its plumbing: ``GitHubPlumbing``)."""

    async def post_comment(self, target: ChangeTarget, body: str) -> str:
        raise NotImplementedError

    async def pull_author(self, number: int) -> str | None:
        pull = (
            await self._call(
                lambda: self._gh.rest.pulls.async_get(self.owner, self.repo, number),
                what=f"reading pull request #{number}",
            )
        ).parsed_data
        return str(pull.user.login) if pull.user is not None else None

    async def is_self(self, username: str, user_id: int | None) -> bool:
        if self._bot_login is not None:
            return username == self._bot_login
        return username.endswith("[bot]")

    async def _review_comments(self, number: int) -> list[Any]:
        return await self._pages(
            lambda page: self._gh.rest.pulls.async_list_review_comments(
                self.owner, self.repo, number, per_page=_PER_PAGE, page=page
            ),
            what=f"listing the review comments of #{number}",
            max_items=10_000,
        )

    async def finding_thread(self, target: ChangeTarget, thread: str) -> FindingThread | None:
        if target.number is None or not thread.isdigit():
            return None
        first_id = int(thread)
        try:
            first = (
                await self._call(
                    lambda: self._gh.rest.pulls.async_get_review_comment(
                        self.owner, self.repo, first_id
                    ),
                    what=f"reading review comment {first_id}",
                )
            ).parsed_data
        except NotFound:
            return None
        key = marker_key(first.body)
        if key is None or not self._ours(first.user) or isinstance(first.in_reply_to_id, int):
            return None
        replies = tuple(
            ThreadNote(
                author=str(c.user.login) if c.user is not None else "",
                body=c.body or "",
                ours=self._ours(c.user),
            )
            for c in await self._review_comments(target.number)
            if c.in_reply_to_id == first_id
        )
        line = first.line if isinstance(first.line, int) else first.original_line
        return FindingThread(
            id=thread,
            key=key,
            path=first.path,
            line=line if isinstance(line, int) else None,
            first_body=first.body or "",
            replies=replies,
            commit=str(first.commit_id) if first.commit_id else None,
        )

    async def reply_in_thread(self, target: ChangeTarget, thread: str, body: str) -> str:
        if target.number is None or not thread.isdigit():
            raise ForgeError("a reply in a review thread needs a pull request and a comment")
        number, first_id = target.number, int(thread)
        text = limits.fit(body, limits.GITHUB_BODY_MAX)
        created = await self._call(
            lambda: self._gh.rest.pulls.async_create_reply_for_review_comment(
                self.owner, self.repo, number, first_id, body=text
            ),
            what=f"replying in the thread of comment {first_id}",
        )
        return str(created.parsed_data.id)

    async def reply_to_finding(self, target: ChangeTarget, key: str, body: str) -> bool:
        if target.number is None:
            return False
        for comment in await self._review_comments(target.number):
            if (
                not isinstance(comment.in_reply_to_id, int)
                and self._ours(comment.user)
                and marker_key(comment.body) == key
            ):
                await self.reply_in_thread(target, str(comment.id), body)
                return True
        return False

    async def post_once(self, target: ChangeTarget, marker: str, body: str) -> bool:
        if target.number is None:
            raise ForgeError("a comment needs a pull request number")
        number = target.number
        comments = await self._pages(
            lambda page: self._gh.rest.issues.async_list_comments(
                self.owner, self.repo, number, per_page=_PER_PAGE, page=page
            ),
            what=f"listing the comments of #{number}",
            max_items=10_000,
        )
        if any(self._ours(c.user) and marker in (c.body or "") for c in comments):
            return False
        await self.post_comment(target, body)
        return True
