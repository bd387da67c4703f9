"""Review threads and feedback on GitHub through githubkit: resolving the threads of fixed
findings (GraphQL) and reading replies and 👎 reactions on our review comments (REST).

A mixin of :class:`bot.forges.github.forge.GitHubForge`, kept apart so that each module holds one
concept; the GraphQL documents and the SDK-free reading live in ``github_threads``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from githubkit.exception import GraphQLFailed

from bot.errors import ForgeError, NotFound
from bot.forges.base import ChangeTarget
from bot.forges.github.plumbing import GitHubPlumbing
from bot.forges.github.threads import (
    ReviewNote,
    false_positive_replies,
    our_keys,
    resolve_threads,
    review_threads,
)

# Whether a person's feedback counts (the conversation's write-access check).
Accept = Callable[[str], Awaitable[bool]]

_PER_PAGE = 100


class GitHubFeedback(GitHubPlumbing):
    """A mixin of :class:`GitHubForge` (its plumbing: ``GitHubPlumbing``)."""

    async def _graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            try:
                return dict(await self._gh.async_graphql(query, variables))
            except GraphQLFailed as exc:
                errors = exc.response.errors or []
                text = "; ".join(e.message for e in errors[:3])
                if any(e.type == "NOT_FOUND" for e in errors):
                    raise NotFound(f"GitHub GraphQL: {text}") from exc
                raise ForgeError(f"GitHub refused a GraphQL request: {text}") from exc

        return await self._call(run, what="calling GitHub's GraphQL API")

    def _graph_ours(self, author: Mapping[str, Any] | None) -> bool:
        if not author:
            return False
        if self._bot_login is not None:
            # GraphQL names an app's bot by its slug, without REST's "[bot]".
            return bool(author.get("login") == self._bot_login.removesuffix("[bot]"))
        return bool(author.get("__typename") == "Bot")

    async def resolve_findings(self, target: ChangeTarget, keys: Sequence[str]) -> int:
        """Resolve the review threads of our comments on these findings (fixed ones);
        returns how many threads were resolved."""
        if target.number is None or not keys:
            return 0
        threads = await review_threads(
            self._graphql, self.owner, self.repo, target.number, self._graph_ours
        )
        return await resolve_threads(self._graphql, threads, frozenset(keys))

    async def feedback(
        self, target: ChangeTarget, accept: Accept | None = None
    ) -> dict[str, str]:
        """Findings people marked false positive on the PR: {finding key: who}, from a
        reply whose first line is "false positive" or a 👎 on our review comment; with
        ``accept``, only people it accepts (write access) count."""
        if target.number is None:
            return {}
        number = target.number
        comments = await self._pages(
            lambda page: self._gh.rest.pulls.async_list_review_comments(
                self.owner, self.repo, number, per_page=_PER_PAGE, page=page
            ),
            what=f"listing the review comments of #{number}",
            max_items=10_000,
        )
        notes = [_note(c, self._ours(c.user)) for c in comments]
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
        reactions = await self._pages(
            lambda page: self._gh.rest.reactions.async_list_for_pull_request_review_comment(
                self.owner, self.repo, comment_id, content="-1", per_page=_PER_PAGE, page=page
            ),
            what=f"listing the reactions to comment {comment_id}",
            max_items=1_000,
        )
        return [
            str(reaction.user.login)
            for reaction in reactions
            if reaction.user is not None and not self._ours(reaction.user)
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
