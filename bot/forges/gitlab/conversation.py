"""Conversation on GitLab: the discussions our finding notes start (their notes, an answer
inside the discussion), the merge request's author, and answers posted once.

A mixin of :class:`bot.forges.gitlab.forge.GitLabForge`, like ``feedback``; python-gitlab
calls go through the adapter's ``_call`` (in a thread). A reply is a note added to the
discussion (docs.gitlab.com/api/discussions/#add-note-to-existing-merge-request-thread).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from bot.errors import ForgeError, NotFound
from bot.forges import limits
from bot.forges.base import ChangeTarget
from bot.forges.conversation import FindingThread, ThreadNote
from bot.forges.feedback import marker_key

T = TypeVar("T")

# Project and group access tokens act as bot users named project_<id>_bot_<hash> or
# group_<id>_bot_<hash> (docs.gitlab.com/user/project/settings/project_access_tokens/
# #bot-users-for-projects); service accounts are service_account_<...>.
_BOT_USERNAME = re.compile(r"^(?:(?:project|group)_\d+_bot(?:_\w+)?|service_account_\w+)$")


class GitLabConversation:
    """Needs the plumbing of :class:`GitLabForge` (declared here for the type checker)."""

    _path: str
    _gl: Any

    async def _call(self, call: Callable[[], T], *, what: str, idempotent: bool = True) -> T:
        raise NotImplementedError

    async def _get(self, path: str, **query: Any) -> Any:
        raise NotImplementedError

    async def _me(self) -> int:
        raise NotImplementedError

    async def _mr(self, number: int) -> dict[str, Any]:
        raise NotImplementedError

    async def _our_discussions(self, number: int) -> list[tuple[str, dict[str, Any]]]:
        raise NotImplementedError

    async def our_note_bodies(self, number: int) -> list[str]:
        raise NotImplementedError

    async def post_comment(self, target: ChangeTarget, body: str) -> str:
        raise NotImplementedError

    async def pull_author(self, number: int) -> str | None:
        author = (await self._mr(number)).get("author") or {}
        username = author.get("username")
        return str(username) if username else None

    async def is_self(self, username: str, user_id: int | None) -> bool:
        if user_id is not None and user_id == await self._me():
            return True
        return _BOT_USERNAME.match(username) is not None

    async def finding_thread(self, target: ChangeTarget, thread: str) -> FindingThread | None:
        if target.number is None:
            return None
        url = f"{self._path}/merge_requests/{target.number}/discussions/{thread}"
        try:
            discussion = await self._get(url)
        except NotFound:
            return None
        notes = list(discussion.get("notes") or [])
        if not notes:
            return None
        me = await self._me()
        first = notes[0]
        key = marker_key(first.get("body"))
        if key is None or (first.get("author") or {}).get("id") != me:
            return None
        position = first.get("position") or {}
        line = position.get("new_line") or position.get("old_line")
        return FindingThread(
            id=thread,
            key=key,
            path=position.get("new_path") or position.get("old_path"),
            line=int(line) if line else None,
            first_body=str(first.get("body") or ""),
            replies=tuple(
                ThreadNote(
                    author=str((n.get("author") or {}).get("username") or ""),
                    body=str(n.get("body") or ""),
                    ours=(n.get("author") or {}).get("id") == me,
                )
                for n in notes[1:]
                if not n.get("system")
            ),
            commit=position.get("head_sha"),
        )

    async def reply_in_thread(self, target: ChangeTarget, thread: str, body: str) -> str:
        if target.number is None:
            raise ForgeError("a reply in a discussion needs a merge request iid")
        url = f"{self._path}/merge_requests/{target.number}/discussions/{thread}/notes"
        data = {"body": limits.fit(body, limits.GITLAB_NOTE_MAX)}
        created = await self._call(
            lambda: self._gl.http_post(
                url, post_data=data, obey_rate_limit=False, max_retries=0,
                retry_transient_errors=False,
            ),
            what="replying in a discussion",
            idempotent=False,
        )
        return str(created["id"])

    async def reply_to_finding(self, target: ChangeTarget, key: str, body: str) -> bool:
        if target.number is None:
            return False
        for found, item in await self._our_discussions(target.number):
            if found == key:
                await self.reply_in_thread(target, str(item["id"]), body)
                return True
        return False

    async def post_once(self, target: ChangeTarget, marker: str, body: str) -> bool:
        if target.number is None:
            raise ForgeError("a note needs a merge request iid")
        if any(marker in text for text in await self.our_note_bodies(target.number)):
            return False
        await self.post_comment(target, body)
        return True
