"""Discussions and feedback on GitLab: resolving the discussions of fixed findings and
reading "false positive" replies and 👎 awards on our notes.

A mixin of :class:`bot.forges.gitlab.forge.GitLabForge`, kept apart so that each module holds one
concept; python-gitlab calls go through the adapter's ``_call`` (in a thread).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.forges.base import ChangeTarget
from bot.forges.feedback import marker_key, says_false_positive

# Whether a person's feedback counts (the conversation's write-access check).
Accept = Callable[[str], Awaitable[bool]]


class GitLabFeedback:
    """Needs the plumbing of :class:`GitLabForge` (declared here for the type checker)."""

    _path: str

    async def _put(self, path: str, **query: Any) -> Any:
        raise NotImplementedError

    async def _list(self, path: str, **query: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def _me(self) -> int:
        raise NotImplementedError

    async def _our_discussions(self, number: int) -> list[tuple[str, dict[str, Any]]]:
        """(finding key, discussion) for the discussions our marked notes start."""
        me = await self._me()
        found = []
        for item in await self._list(f"{self._path}/merge_requests/{number}/discussions"):
            notes = item.get("notes") or []
            first = notes[0] if notes else {}
            key = marker_key(first.get("body"))
            if key is not None and (first.get("author") or {}).get("id") == me:
                found.append((key, item))
        return found

    async def resolve_findings(self, target: ChangeTarget, keys: Sequence[str]) -> int:
        """Resolve the discussions of our comments on these findings (fixed ones)
        (docs.gitlab.com/api/discussions/#resolve-a-merge-request-thread)."""
        if target.number is None or not keys:
            return 0
        wanted = frozenset(keys)
        resolved = 0
        for key, item in await self._our_discussions(target.number):
            first = item["notes"][0]
            if key not in wanted or not first.get("resolvable") or first.get("resolved"):
                continue
            url = f"{self._path}/merge_requests/{target.number}/discussions/{item['id']}"
            await self._put(url, resolved="true")
            resolved += 1
        return resolved

    async def feedback(
        self, target: ChangeTarget, accept: Accept | None = None
    ) -> dict[str, str]:
        """Findings people marked false positive: {finding key: username}, from a reply
        whose first line is "false positive" or a 👎 (award emoji ``thumbsdown``) on our
        note (docs.gitlab.com/api/emoji_reactions/); with ``accept``, only people it
        accepts (write access) count."""
        if target.number is None:
            return {}
        me = await self._me()
        found: dict[str, str] = {}
        for key, item in await self._our_discussions(target.number):
            notes = item["notes"]
            for note in notes[1:]:
                author = note.get("author") or {}
                who = str(author.get("username"))
                if author.get("id") != me and says_false_positive(note.get("body")) and (
                    accept is None or await accept(who)
                ):
                    found[key] = who
                    break
            if key in found:
                continue
            url = f"{self._path}/merge_requests/{target.number}/notes/{notes[0]['id']}"
            for award in await self._list(f"{url}/award_emoji"):
                user = award.get("user") or {}
                who = str(user.get("username"))
                if award.get("name") == "thumbsdown" and user.get("id") != me and (
                    accept is None or await accept(who)
                ):
                    found[key] = who
                    break
        return found
