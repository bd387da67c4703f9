"""GitLab through python-gitlab: merge request changes in, discussions, a summary note and
a commit status out.

python-gitlab is synchronous: every call runs in a worker thread. Its own retry sleeps
inside that thread for as long as ``Retry-After`` says, so it is switched off; this module
waits on the event loop instead, within ``max_wait_s``, and hands longer waits to the job
queue as RetryLater.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from redis.asyncio import Redis

from bot.config import Settings
from bot.errors import ForgeError, NotFound, RetryLater
from bot.forges import limits
from bot.forges.base import (
    CONFIG_PATH,
    REVIEW_MARKER_PREFIX,
    SUMMARY_MARKER,
    Change,
    ChangeTarget,
    CheckUpdate,
    ForgeRefused,
    InlineComment,
    OpenPull,
    ReviewResult,
    Tree,
    is_null_sha,
    review_marker,
)
from bot.forges.feedback import Accept
from bot.forges.gitlab import review as gitlab_review
from bot.forges.gitlab.client import GitLabClient, project_path
from bot.forges.gitlab.conversation import GitLabConversation
from bot.forges.gitlab.feedback import GitLabFeedback
from bot.forges.gitlab.files import files_from_diffs
from bot.forges.gitlab.notes import merge_request, our_note_bodies, our_notes
from bot.forges.gitlab.position import Refs
from bot.forges.gitlab.status import StatusTarget, status_payload
from bot.forges.locks import publish_lock
from bot.forges.review_text import marked, where

logger = logging.getLogger(__name__)

GitLabRefused = ForgeRefused
SUMMARY_PENDING = "auditbot reviewed this merge request; its summary follows."
_REVIEWED = re.compile(re.escape(REVIEW_MARKER_PREFIX) + r"\S+ -->\n?")


class GitLabForge:
    """The forge interface for one GitLab project (:class:`bot.forges.base.PullRequestForge`).
    The request plumbing is ``client``'s; the conversation is a part it holds; GitLab has
    no code scanning here (``code_scanning`` is None)."""

    code_scanning = None

    def __init__(
        self,
        client: GitLabClient,
        *,
        max_file_bytes: int = 1_000_000,
        redis: Redis | None = None,
    ) -> None:
        self.client = client
        self.project = client.project
        self._path = client.path
        self.conversation = GitLabConversation(self.client)
        self._discussions = GitLabFeedback(self.client)
        self._max_file_bytes = max_file_bytes
        self._redis = redis  # for publish locks shared by workers; None in the CLI

    @classmethod
    def from_settings(
        cls, settings: Settings, project: int | str, *, redis: Redis | None = None
    ) -> GitLabForge:
        return cls(GitLabClient.from_settings(settings, project), redis=redis)

    # Merge request features ---------------------------------------------------------

    async def resolve_findings(self, target: ChangeTarget, keys: Sequence[str]) -> int:
        return await self._discussions.resolve_findings(target, keys)

    async def feedback(self, target: ChangeTarget, accept: Accept | None = None) -> dict[str, str]:
        return await self._discussions.feedback(target, accept)

    async def post_comment(self, target: ChangeTarget, body: str) -> str:
        return await self.conversation.post_comment(target, body)

    async def can_trigger(self, username: str) -> bool:
        return await self.conversation.can_trigger(username)

    async def version_base(self, number: int) -> str | None:
        """The latest merge request version's base: GitLab's hook does not name it."""
        return (await self._refs(number)).base_sha

    # Read side ----------------------------------------------------------------------

    async def _refs(self, number: int) -> Refs:
        """The latest MR version's SHAs (``diff_refs`` may still be empty right after the
        MR was opened; the versions endpoint is the source positions must match)."""
        versions = await self.client.list_all(f"{self._path}/merge_requests/{number}/versions")
        if not versions:
            raise RetryLater("GitLab has not computed the merge request diff yet", retry_after=10)
        latest = versions[0]  # newest first
        return Refs(
            latest["base_commit_sha"], latest["start_commit_sha"], latest["head_commit_sha"]
        )

    async def hook_problem(self, url_prefix: str) -> str | None:
        """Why GitLab no longer calls our project webhook (it disabled the hook after
        failures); None when one is active, or when the project has none pointing at
        ``url_prefix`` (a group or system hook may call us instead)."""
        hooks = [h for h in await self.client.list_all(f"{self._path}/hooks")
                 if str(h.get("url", "")).startswith(url_prefix)]
        if not hooks or any(h.get("alert_status", "executable") == "executable" for h in hooks):
            return None
        hook = hooks[0]
        until = f" until {hook['disabled_until']}" if hook.get("disabled_until") else ""
        return f"GitLab {hook['alert_status'].replace('_', ' ')} the webhook{until}"

    async def open_pulls(self, limit: int = 100) -> list[OpenPull]:
        """Open merge requests, most recently created first (at most ``limit``, one page).
        The list names no base commit (``diff_refs`` is on the single merge request only);
        the review job reads it from the latest version, as for a merge request hook."""
        mrs = await self.client.get(
            f"{self._path}/merge_requests", state="opened", order_by="created_at",
            sort="desc", per_page=min(max(limit, 1), 100),
        )
        return [
            OpenPull(number=int(mr["iid"]), head_sha=str(mr["sha"]),
                     head_ref=str(mr["source_branch"]), base_sha=None,
                     base_ref=str(mr["target_branch"]),
                     author=(mr.get("author") or {}).get("username"),
                     draft=bool(mr.get("draft") or mr.get("work_in_progress")))
            for mr in mrs[:limit]
            if mr.get("sha")  # a merge request with no commits yet has nothing to review
        ]

    async def pull_head(self, number: int) -> str:
        # The merge request's own "sha" follows a push at once; its versions (what
        # fetch_change reads) may lag a few seconds, which the review job retries.
        return str((await self.client.get(f"{self._path}/merge_requests/{number}"))["sha"])

    async def fetch_change(self, target: ChangeTarget) -> Change:
        if target.number is None:
            if target.base is None or target.head is None:
                raise ForgeError("GitLab needs a merge request iid or both base and head")
            return await self.compare(target.base, target.head)
        refs = await self._refs(target.number)
        diffs = await self._diffs(target.number)
        change = await self._change(refs.base_sha, refs.head_sha, diffs)
        return Change(change.base_sha, change.head_sha, change.files, change.skipped,
                      change.truncated, start_sha=refs.start_sha)

    async def _diffs(self, number: int) -> list[dict[str, Any]]:
        """The MR's file diffs from the paginated ``diffs`` endpoint (GitLab 15.7+); older
        instances only have the deprecated ``changes`` endpoint, with the same items."""
        url = f"{self._path}/merge_requests/{number}"
        try:
            return await self.client.list_all(f"{url}/diffs")
        except NotFound:
            logger.info("no diffs endpoint (GitLab before 15.7); using changes")
            return list((await self.client.get(f"{url}/changes")).get("changes") or [])

    async def compare(self, base: str, head: str) -> Change:
        if is_null_sha(base):
            base = await self._default_branch()
        url = f"{self._path}/repository/compare"
        try:
            result = await self.client.get(url, **{"from": base, "to": head})
        except NotFound:
            logger.info("commit %s is gone; comparing %s with the default branch", base, head)
            base = await self._default_branch()
            result = await self.client.get(url, **{"from": base, "to": head})
        return await self._change(base, head, result.get("diffs") or [])

    async def _default_branch(self) -> str:
        return str((await self.client.get(self._path))["default_branch"])

    async def _change(self, base: str, head: str, diffs: Sequence[dict[str, Any]]) -> Change:
        files, skipped = await files_from_diffs(
            diffs, base_sha=base, head_sha=head, read=self.read_file,
            max_file_bytes=self._max_file_bytes,
        )
        return Change(base, head, files, skipped, start_sha=base)

    async def read_file(self, path: str, ref: str) -> bytes | None:
        url = f"{self._path}/repository/files/{quote(path, safe='')}/raw"
        try:
            data = await self.client.get_raw(url, what=f"reading {path}", ref=ref)
        except NotFound:
            return None
        return None if len(data) > self._max_file_bytes else data

    async def read_repo_config(self, ref: str) -> str | None:
        data = await self.read_file(CONFIG_PATH, ref)
        return None if data is None else data.decode("utf-8", errors="replace")

    async def list_tree(self, ref: str) -> Tree:
        items = await self.client.list_all(
            f"{self._path}/repository/tree", ref=ref, recursive=True
        )
        return Tree(item["path"] for item in items if item["type"] == "blob")

    async def close(self) -> None:
        await self.client.close()

    # Publish ------------------------------------------------------------------------

    async def our_note_bodies(self, number: int) -> list[str]:
        return await our_note_bodies(self.client, number)

    async def version_refs(self, number: int) -> Refs:
        return await self._refs(number)

    async def file_diffs(self, number: int) -> list[dict[str, Any]]:
        return await self._diffs(number)

    async def post_note(self, number: int, body: str, key: str) -> None:
        """A general note; after a 5xx the MR is checked for ``key`` before trying again."""
        url = f"{self._path}/merge_requests/{number}/notes"
        for attempt in (1, 2, 3):
            try:
                await self.client.post(url, {"body": body}, what="posting a note")
                return
            except RetryLater:
                if attempt == 3:
                    raise
                if any(key in text for text in await self.our_note_bodies(number)):
                    return  # the note landed; only its answer was lost

    async def start_discussion(
        self, number: int, comment: InlineComment, where_to: dict[str, Any]
    ) -> bool:
        """Start an inline discussion; False when GitLab refuses the position."""
        url = f"{self._path}/merge_requests/{number}/discussions"
        data = {"body": limits.fit(marked(comment), limits.GITLAB_NOTE_MAX), "position": where_to}
        try:
            await self.client.post(url, data, what="starting a discussion")
        except GitLabRefused as exc:
            # 400 "line_code can't be blank": GitLab could not map the position.
            if exc.status == 400:
                logger.info("GitLab refused the position of %s: %s", where(comment), exc)
                return False
            raise
        return True

    async def publish_review(
        self,
        target: ChangeTarget,
        head_sha: str,
        comments: Sequence[InlineComment],
        body: str,
    ) -> ReviewResult:
        if target.number is None:
            raise ForgeError("a review needs a merge request iid")
        async with publish_lock(self._redis, f"gitlab:review:{self.project}!{target.number}"):
            return await gitlab_review.publish(self, target.number, head_sha, comments, body)

    async def mark_reviewed(self, number: int, head_sha: str) -> None:
        """Put the reviewed-head marker into the summary note (made now when there is none
        yet; the summary is written right after): a merge request holds the discussions
        and one summary note, no general note per review."""
        async with publish_lock(self._redis, f"gitlab:summary:{self.project}!{number}"):
            await self._write_summary(number, SUMMARY_PENDING, reviewed=head_sha)

    async def upsert_summary(self, target: ChangeTarget, body: str) -> str:
        if target.number is None:
            raise ForgeError("a summary note needs a merge request iid")
        async with publish_lock(self._redis, f"gitlab:summary:{self.project}!{target.number}"):
            return await self._write_summary(target.number, body)

    async def _write_summary(self, number: int, body: str, *, reviewed: str | None = None) -> str:
        """Edit the summary note in place (or post it); it keeps the reviewed-head marker
        it carries unless ``reviewed`` names a newer head. With ``reviewed``, an existing
        note keeps its text."""
        text = body if SUMMARY_MARKER in body else f"{SUMMARY_MARKER}\n{body}"
        for note in await our_notes(self.client, number):
            if SUMMARY_MARKER in note["body"]:
                old = str(note["body"])
                kept = _REVIEWED.search(old)
                marker = review_marker(reviewed) if reviewed else (kept.group(0) if kept else "")
                new = _with_marker(old if reviewed else text, marker.strip())
                edit = f"{self._path}/merge_requests/{number}/notes/{note['id']}"
                await self.client.put_data(edit, {"body": new}, what="editing the summary note")
                return str(note["id"])
        marker = review_marker(reviewed) if reviewed else ""
        created = await self.client.post(
            f"{self._path}/merge_requests/{number}/notes",
            {"body": _with_marker(text, marker)},
            what="posting the summary note",
        )
        return str(created["id"])

    # Commit status ------------------------------------------------------------------

    async def create_check(
        self, head_sha: str, update: CheckUpdate, target: ChangeTarget | None = None,
        *, key: str | None = None,  # a commit status is one per (sha, name): no key needed
    ) -> str:
        """Status ``auditbot`` on the commit; for an MR, on the source project (a fork's
        commit lives there) with the MR's branch and head pipeline."""
        status = StatusTarget(str(self.project), head_sha)
        if target is not None and target.number is not None:
            mr = await merge_request(self.client, target.number)
            pipeline = mr.get("head_pipeline") or {}
            # A pipeline of another commit would attach the status to the wrong run.
            pipeline_id = str(pipeline.get("id") or "") if pipeline.get("sha") == head_sha else ""
            status = StatusTarget(
                str(mr["source_project_id"]), head_sha, mr.get("source_branch") or "", pipeline_id
            )
        await self.update_check(status.encode(), update)
        return status.encode()

    async def update_check(self, check_id: str, update: CheckUpdate) -> None:
        status = StatusTarget.decode(check_id)
        data = status_payload(status, update)
        url = f"{project_path(status.project)}/statuses/{status.sha}"
        try:
            await self.client.post(url, data, what="setting the commit status", idempotent=True)
        except GitLabRefused as exc:
            # A second "running" (a progress update) is refused: "Cannot transition status
            # via :run from :running". The status already says what we wanted.
            if exc.status == 400 and "Cannot transition status" in exc.message:
                return
            raise


def _with_marker(text: str, marker: str) -> str:
    """``text`` (which starts with the summary marker) with ``marker`` as its only
    reviewed-head marker, on the line after the summary marker; the note stays in GitLab's
    size limit."""
    body = _REVIEWED.sub("", text)
    if marker:
        body = body.replace(SUMMARY_MARKER, f"{SUMMARY_MARKER}\n{marker}", 1)
    return limits.fit(body, limits.GITLAB_NOTE_MAX)
