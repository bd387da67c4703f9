"""Review threads and feedback on GitHub, SDK-free: the GraphQL documents that find and
resolve our review threads, and the reading of replies and reactions on our comments.

REST has no way to resolve a review thread; GraphQL's ``resolveReviewThread`` does
(docs.github.com/en/graphql/reference/mutations#resolvereviewthread). A thread is ours
when its first comment is by the app and carries the hidden finding marker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.forges.feedback import marker_key, says_false_positive

THREADS_QUERY = """
query AuditbotReviewThreads($owner: String!, $name: String!, $number: Int!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id
          isResolved
          comments(first: 1) { nodes { body author { __typename login } } }
        }
      }
    }
  }
}
"""

RESOLVE_MUTATION = """
mutation AuditbotResolveThread($threadId: ID!) {
  resolveReviewThread(input: {threadId: $threadId}) { thread { id isResolved } }
}
"""

DOCUMENTS = (THREADS_QUERY, RESOLVE_MUTATION)
MAX_THREAD_PAGES = 50

GraphQL = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Thread:
    id: str
    resolved: bool
    key: str | None  # the finding key of its first comment, when that comment is ours


async def review_threads(
    graphql: GraphQL,
    owner: str,
    name: str,
    number: int,
    ours: Callable[[Mapping[str, Any] | None], bool],
) -> list[Thread]:
    """Every review thread of the pull request, following GraphQL's cursor."""
    threads: list[Thread] = []
    cursor: str | None = None
    for _ in range(MAX_THREAD_PAGES):
        variables = {"owner": owner, "name": name, "number": number, "cursor": cursor}
        data = await graphql(THREADS_QUERY, variables)
        pull = ((data.get("repository") or {}).get("pullRequest")) or {}
        connection = pull.get("reviewThreads") or {}
        for node in connection.get("nodes") or []:
            first = ((node.get("comments") or {}).get("nodes") or [None])[0] or {}
            key = marker_key(first.get("body")) if ours(first.get("author")) else None
            threads.append(Thread(str(node["id"]), bool(node.get("isResolved")), key))
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            break
        cursor = page.get("endCursor")
    return threads


async def resolve_threads(
    graphql: GraphQL, threads: Iterable[Thread], keys: Collection[str]
) -> int:
    """Resolve our open threads whose finding key is in ``keys``; how many were resolved."""
    resolved = 0
    for thread in threads:
        if thread.resolved or thread.key is None or thread.key not in keys:
            continue
        await graphql(RESOLVE_MUTATION, {"threadId": thread.id})
        resolved += 1
    return resolved


@dataclass(frozen=True)
class ReviewNote:
    """A pull request review comment, reduced to what feedback needs."""

    id: int
    body: str
    login: str
    ours: bool
    in_reply_to: int | None = None
    thumbs_down: int = 0


def our_keys(notes: Iterable[ReviewNote]) -> dict[int, str]:
    """Comment id -> finding key, for the review comments we posted."""
    keys: dict[int, str] = {}
    for note in notes:
        key = marker_key(note.body) if note.ours else None
        if key is not None:
            keys[note.id] = key
    return keys


def false_positive_replies(
    notes: Iterable[ReviewNote], keys: Mapping[int, str]
) -> list[tuple[str, str]]:
    """(finding key, login) of everyone who answered "false positive", oldest first.

    GitHub threads replies to the thread's first comment (``in_reply_to_id``)."""
    found: list[tuple[str, str]] = []
    for note in notes:
        if note.ours or note.in_reply_to not in keys or not says_false_positive(note.body):
            continue
        found.append((keys[note.in_reply_to], note.login))  # type: ignore[index]
    return found
