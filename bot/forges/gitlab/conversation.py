"""Conversation on GitLab: the discussions our finding notes start (their notes, an answer
inside the discussion), the merge request's author, and answers posted once.

Held by :class:`bot.forges.gitlab.forge.GitLabForge`, over its :class:`GitLabClient`
(python-gitlab in a thread), with the plain notes and the permission check of comment
commands. A reply is a note added to the discussion
(docs.gitlab.com/api/discussions/#add-note-to-existing-merge-request-thread).
"""

from __future__ import annotations

import re

from bot.errors import ForgeError, NotFound
from bot.forges import limits
from bot.forges.base import ChangeTarget
from bot.forges.conversation import FindingThread, ThreadNote
from bot.forges.feedback import marker_key
from bot.forges.gitlab.client import GitLabClient
from bot.forges.gitlab.notes import merge_request, our_discussions, our_note_bodies

# Project and group access tokens act as bot users named project_<id>_bot_<hash> or
# group_<id>_bot_<hash> (docs.gitlab.com/user/project/settings/project_access_tokens/
# #bot-users-for-projects); service accounts are service_account_<...>.
_DEVELOPER = 30  # GitLab's access level that may push code
_BOT_USERNAME = re.compile(r"^(?:(?:project|group)_\d+_bot(?:_\w+)?|service_account_\w+)$")


class GitLabConversation:
    """:class:`bot.forges.conversation.Conversation` over one project's client."""

    def __init__(self, client: GitLabClient) -> None:
        self.client = client

    async def post_comment(self, target: ChangeTarget, body: str) -> str:
        """A plain MR note (a reply to a command); returns its id."""
        if target.number is None:
            raise ForgeError("a note needs a merge request iid")
        created = await self.client.post(
            f"{self.client.path}/merge_requests/{target.number}/notes",
            {"body": limits.fit(body, limits.GITLAB_NOTE_MAX)},
            what="replying on the merge request",
        )
        return str(created["id"])

    async def can_trigger(self, username: str) -> bool:
        """Whether ``username`` may run commands: Developer (30) or above on the project,
        inherited membership included (docs.gitlab.com/api/members/
        #get-a-member-of-a-group-or-project-including-inherited-and-invited-members)."""
        users = await self.client.list_all("/users", username=username)
        if not users:
            return False
        try:
            member = await self.client.get(
                f"{self.client.path}/members/all/{int(users[0]['id'])}"
            )
        except NotFound:
            return False
        return int(member.get("access_level", 0)) >= _DEVELOPER

    async def pull_author(self, number: int) -> str | None:
        author = (await merge_request(self.client, number)).get("author") or {}
        username = author.get("username")
        return str(username) if username else None

    async def is_self(self, username: str, user_id: int | None) -> bool:
        if user_id is not None and user_id == await self.client.me():
            return True
        return _BOT_USERNAME.match(username) is not None

    async def finding_thread(self, target: ChangeTarget, thread: str) -> FindingThread | None:
        if target.number is None:
            return None
        url = f"{self.client.path}/merge_requests/{target.number}/discussions/{thread}"
        try:
            discussion = await self.client.get(url)
        except NotFound:
            return None
        notes = list(discussion.get("notes") or [])
        if not notes:
            return None
        me = await self.client.me()
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
        url = f"{self.client.path}/merge_requests/{target.number}/discussions/{thread}/notes"
        data = {"body": limits.fit(body, limits.GITLAB_NOTE_MAX)}
        created = await self.client.post(url, data, what="replying in a discussion")
        return str(created["id"])

    async def reply_to_finding(self, target: ChangeTarget, key: str, body: str) -> bool:
        if target.number is None:
            return False
        for found, item in await our_discussions(self.client, target.number):
            if found == key:
                await self.reply_in_thread(target, str(item["id"]), body)
                return True
        return False

    async def post_once(self, target: ChangeTarget, marker: str, body: str) -> bool:
        if target.number is None:
            raise ForgeError("a note needs a merge request iid")
        if any(marker in text for text in await our_note_bodies(self.client, target.number)):
            return False
        await self.post_comment(target, body)
        return True
