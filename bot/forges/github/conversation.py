"""Conversation on GitHub through githubkit: the threads of our review comments (their first
comment and the replies, an answer inside the thread), the pull request's author, and
answers posted once.

Held by :class:`bot.forges.github.forge.GitHubForge`, over its :class:`GitHubClient`, with the
plain comments and the permission check of comment commands. GitHub threads
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
from bot.forges.github.client import PER_PAGE, GitHubClient


class GitHubConversation:
    """:class:`bot.forges.conversation.Conversation` over one repository's client."""

    def __init__(self, client: GitHubClient) -> None:
        self.client = client
        self.gh, self.owner, self.repo = client.gh, client.owner, client.repo

    async def post_comment(self, target: ChangeTarget, body: str) -> str:
        """A plain PR comment (a reply to a command); returns its id."""
        if target.number is None:
            raise ForgeError("a comment needs a pull request number")
        number = target.number
        created = await self.client.call(
            lambda: self.gh.rest.issues.async_create_comment(
                self.owner, self.repo, number,
                body=limits.fit(body, limits.GITHUB_BODY_MAX),
            ),
            what=f"replying on #{number}",
        )
        return str(created.parsed_data.id)

    async def can_trigger(self, username: str) -> bool:
        """Whether ``username`` may run commands: write access or more ("admin",
        "maintain", "write"; docs.github.com/rest/collaborators/collaborators
        #get-repository-permissions-for-a-user)."""
        try:
            response = await self.client.call(
                lambda: self.gh.rest.repos.async_get_collaborator_permission_level(
                    self.owner, self.repo, username
                ),
                what=f"reading {username}'s permission",
            )
        except NotFound:
            return False
        data = response.parsed_data
        return data.permission in {"admin", "write"} or (data.role_name or "") in {
            "admin",
            "maintain",
            "write",
        }

    async def pull_author(self, number: int) -> str | None:
        pull = (
            await self.client.call(
                lambda: self.gh.rest.pulls.async_get(self.owner, self.repo, number),
                what=f"reading pull request #{number}",
            )
        ).parsed_data
        return str(pull.user.login) if pull.user is not None else None

    async def is_self(self, username: str, user_id: int | None) -> bool:
        if self.client.bot_login is not None:
            return username == self.client.bot_login
        return username.endswith("[bot]")

    async def _review_comments(self, number: int) -> list[Any]:
        return await self.client.pages(
            lambda page: self.gh.rest.pulls.async_list_review_comments(
                self.owner, self.repo, number, per_page=PER_PAGE, page=page
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
                await self.client.call(
                    lambda: self.gh.rest.pulls.async_get_review_comment(
                        self.owner, self.repo, first_id
                    ),
                    what=f"reading review comment {first_id}",
                )
            ).parsed_data
        except NotFound:
            return None
        key = marker_key(first.body)
        if key is None or not self.client.ours(first.user) or isinstance(first.in_reply_to_id, int):
            return None
        replies = tuple(
            ThreadNote(
                author=str(c.user.login) if c.user is not None else "",
                body=c.body or "",
                ours=self.client.ours(c.user),
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
        created = await self.client.call(
            lambda: self.gh.rest.pulls.async_create_reply_for_review_comment(
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
                and self.client.ours(comment.user)
                and marker_key(comment.body) == key
            ):
                await self.reply_in_thread(target, str(comment.id), body)
                return True
        return False

    async def post_once(self, target: ChangeTarget, marker: str, body: str) -> bool:
        if target.number is None:
            raise ForgeError("a comment needs a pull request number")
        number = target.number
        comments = await self.client.pages(
            lambda page: self.gh.rest.issues.async_list_comments(
                self.owner, self.repo, number, per_page=PER_PAGE, page=page
            ),
            what=f"listing the comments of #{number}",
            max_items=10_000,
        )
        if any(self.client.ours(c.user) and marker in (c.body or "") for c in comments):
            return False
        await self.post_comment(target, body)
        return True
