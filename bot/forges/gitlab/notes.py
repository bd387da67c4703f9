"""Reading one merge request's notes and discussions as auditbot sees them: which are its
own (the token's user), which discussions its finding notes start. Shared by publishing,
feedback and the conversation."""

from __future__ import annotations

from typing import Any

from bot.forges.feedback import marker_key
from bot.forges.gitlab.client import GitLabClient


async def merge_request(client: GitLabClient, number: int) -> dict[str, Any]:
    return dict(await client.get(f"{client.path}/merge_requests/{number}"))


async def our_notes(client: GitLabClient, number: int) -> list[dict[str, Any]]:
    """Every note on the MR (discussion notes included), ours only."""
    me = await client.me()
    notes = await client.list_all(f"{client.path}/merge_requests/{number}/notes")
    return [n for n in notes if (n.get("author") or {}).get("id") == me]


async def our_note_bodies(client: GitLabClient, number: int) -> list[str]:
    return [str(n["body"]) for n in await our_notes(client, number)]


async def our_discussions(client: GitLabClient, number: int) -> list[tuple[str, dict[str, Any]]]:
    """(finding key, discussion) for the discussions our marked notes start."""
    me = await client.me()
    found = []
    for item in await client.list_all(f"{client.path}/merge_requests/{number}/discussions"):
        notes = item.get("notes") or []
        first = notes[0] if notes else {}
        key = marker_key(first.get("body"))
        if key is not None and (first.get("author") or {}).get("id") == me:
            found.append((key, item))
    return found
