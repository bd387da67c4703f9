"""Review threads and feedback on GitHub through githubkit: resolving the threads of fixed
findings (GraphQL) and reading replies and 👎 reactions on our review comments (REST).

Held by :class:`bot.forges.github.forge.GitHubForge`, over its :class:`GitHubClient`; the
GraphQL documents and the SDK-free reading live in ``threads``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.forges.base import ChangeTarget
from bot.forges.feedback import Accept
from bot.forges.github.client import PER_PAGE, GitHubClient
from bot.forges.github.threads import (
    ReviewNote,
    false_positive_replies,
    our_keys,
    resolve_threads,
    review_threads,
)


class GitHubFeedback:
    """Resolving our threads and reading people's feedback on them."""

    def __init__(self, client: GitHubClient) -> None:
        self.client = client
        self.gh, self.owner, self.repo = client.gh, client.owner, client.repo

    async def resolve_findings(self, target: ChangeTarget, keys: Sequence[str]) -> int:
        """Resolve the review threads of our comments on these findings (fixed ones);
        returns how many threads were resolved."""
        if target.number is None or not keys:
            return 0
        threads = await review_threads(
            self.client.graphql, self.owner, self.repo, target.number,
            self.client.graph_ours,
        )
        return await resolve_threads(self.client.graphql, threads, frozenset(keys))

    async def feedback(
        self, target: ChangeTarget, accept: Accept | None = None
    ) -> dict[str, str]:
        """Findings people marked false positive on the PR: {finding key: who}, from a
        reply whose first line is "false positive" or a 👎 on our review comment; with
        ``accept``, only people it accepts (write access) count."""
        if target.number is None:
            return {}
        number = target.number
        comments = await self.client.pages(
            lambda page: self.gh.rest.pulls.async_list_review_comments(
                self.owner, self.repo, number, per_page=PER_PAGE, page=page
            ),
            what=f"listing the review comments of #{number}",
            max_items=10_000,
        )
        notes = [_note(c, self.client.ours(c.user)) for c in comments]
        keys = our_keys(notes)
        found: dict[str, str] = {}
        for key, who in false_positive_replies(notes, keys):
            if key not in found and (accept is None or await accept(who)):
                found[key] = who
        for note in notes:
            marked = keys.get(note.id)
            if marked is None or marked in found or note.thumbs_down == 0:
                continue
            for reactor in await self._thumbs_down_by(note.id):
                if accept is None or await accept(reactor):
                    found[marked] = reactor
                    break
        return found

    async def _thumbs_down_by(self, comment_id: int) -> list[str]:
        reactions = await self.client.pages(
            lambda page: self.gh.rest.reactions.async_list_for_pull_request_review_comment(
                self.owner, self.repo, comment_id, content="-1", per_page=PER_PAGE, page=page
            ),
            what=f"listing the reactions to comment {comment_id}",
            max_items=1_000,
        )
        return [
            str(reaction.user.login)
            for reaction in reactions
            if reaction.user is not None and not self.client.ours(reaction.user)
        ]


def _note(comment: Any, ours: bool) -> ReviewNote:
    reply_to = comment.in_reply_to_id
    reactions = comment.reactions
    user = comment.user
    return ReviewNote(
        id=int(comment.id),
        body=comment.body or "",
        login=str(user.login) if user is not None else "",
        ours=ours,
        in_reply_to=reply_to if isinstance(reply_to, int) else None,
        thumbs_down=int(getattr(reactions, "minus_one", 0) or 0),
    )
