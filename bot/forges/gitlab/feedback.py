"""Discussions and feedback on GitLab: resolving the discussions of fixed findings and
reading "false positive" replies and 👎 awards on our notes.

Held by :class:`bot.forges.gitlab.forge.GitLabForge`, over its :class:`GitLabClient`
(python-gitlab in a thread).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.forges.base import ChangeTarget
from bot.forges.feedback import Accept, says_false_positive
from bot.forges.gitlab.client import GitLabClient
from bot.forges.gitlab.notes import our_discussions


class GitLabFeedback:
    """Resolving our discussions and reading people's feedback on them."""

    def __init__(self, client: GitLabClient) -> None:
        self.client = client

    async def resolve_findings(self, target: ChangeTarget, keys: Sequence[str]) -> int:
        """Resolve the discussions of our comments on these findings (fixed ones)
        (docs.gitlab.com/api/discussions/#resolve-a-merge-request-thread)."""
        if target.number is None or not keys:
            return 0
        wanted = frozenset(keys)
        resolved = 0
        for key, item in await our_discussions(self.client, target.number):
            first = item["notes"][0]
            if key not in wanted or not first.get("resolvable") or first.get("resolved"):
                continue
            url = f"{self.client.path}/merge_requests/{target.number}/discussions/{item['id']}"
            await self.client.put(url, resolved="true")
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
        me = await self.client.me()
        found: dict[str, str] = {}
        for key, item in await our_discussions(self.client, target.number):
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
            url = f"{self.client.path}/merge_requests/{target.number}/notes/{notes[0]['id']}"
            for award in await self.client.list_all(f"{url}/award_emoji"):
                user = award.get("user") or {}
                who = str(user.get("username"))
                if award.get("name") == "thumbsdown" and user.get("id") != me and (
                    accept is None or await accept(who)
                ):
                    found[key] = who
                    break
        return found
