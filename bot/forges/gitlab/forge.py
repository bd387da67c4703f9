"""GitLab through python-gitlab: merge request changes in, discussions, a summary note and
a commit status out.

python-gitlab is synchronous: every call runs in a worker thread. Its own retry sleeps
inside that thread for as long as ``Retry-After`` says, so it is switched off; this module
waits on the event loop instead, within ``max_wait_s``, and hands longer waits to the job
queue as RetryLater.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import gitlab
import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError
from redis.asyncio import Redis

from bot.config import Settings
from bot.errors import ConfigError, ForgeError, NotFound, RetryLater
from bot.forges import limits
from bot.forges.base import (
    CONFIG_PATH,
    SUMMARY_MARKER,
    Change,
    ChangeTarget,
    CheckUpdate,
    ForgeRefused,
    InlineComment,
    ReviewResult,
    Tree,
    is_null_sha,
)
from bot.forges.gitlab import review as gitlab_review
from bot.forges.gitlab.conversation import GitLabConversation
from bot.forges.gitlab.feedback import GitLabFeedback
from bot.forges.gitlab.files import files_from_diffs
from bot.forges.gitlab.position import Refs
from bot.forges.gitlab.status import StatusTarget, status_payload
from bot.forges.locks import publish_lock
from bot.forges.metrics import count_answer
from bot.forges.review_text import marked, where

logger = logging.getLogger(__name__)

T = TypeVar("T")

_DEVELOPER = 30  # GitLab's access level that may push code

# python-gitlab would sleep in its thread for any Retry-After; this module retries instead.
_OWN_RETRIES: dict[str, Any] = {
    "obey_rate_limit": False,
    "max_retries": 0,
    "retry_transient_errors": False,
}


GitLabRefused = ForgeRefused


class _Capture(threading.local):
    retry_after: str | None = None


def _project_path(project: int | str) -> str:
    return f"/projects/{quote(str(project), safe='')}"


class GitLabForge(GitLabFeedback, GitLabConversation):
    """The forge interface for one GitLab project."""

    def __init__(
        self,
        *,
        url: str,
        token: str,
        project: int | str,
        timeout_s: float = 30.0,
        max_attempts: int = 4,
        max_wait_s: float = 60.0,
        backoff_s: float = 1.0,
        max_file_bytes: int = 1_000_000,
        redis: Redis | None = None,
    ) -> None:
        self._capture = _Capture()
        session = requests.Session()
        session.hooks["response"].append(self._remember_retry_after)
        self._gl = gitlab.Gitlab(
            url, private_token=token, timeout=timeout_s, session=session, per_page=100
        )
        self.project = project
        self._path = _project_path(project)
        self._max_attempts = max_attempts
        self._max_wait_s = max_wait_s
        self._backoff_s = backoff_s
        self._max_file_bytes = max_file_bytes
        self._user_id: int | None = None
        self._redis = redis  # for publish locks shared by workers; None in the CLI

    @classmethod
    def from_settings(cls, settings: Settings, project: int | str, **kwargs: Any) -> GitLabForge:
        if settings.gitlab_token is None:
            raise ConfigError("GITLAB_TOKEN", "GitLab is not configured")
        return cls(
            url=settings.gitlab_url,
            token=settings.gitlab_token.get_secret_value(),
            project=project,
            **kwargs,
        )

    # Plumbing -----------------------------------------------------------------------

    def _remember_retry_after(self, response: requests.Response, *args: Any, **kw: Any) -> None:
        self._capture.retry_after = response.headers.get("Retry-After")
        count_answer("gitlab", response.status_code)

    def _in_thread(self, call: Callable[[], T]) -> Callable[[], tuple[T | None, Any]]:
        def run() -> tuple[T | None, Any]:
            self._capture.retry_after = None
            try:
                return call(), None
            except GitlabError as exc:  # HTTP errors and the 401 GitlabAuthenticationError
                return None, (exc, self._capture.retry_after)
            except requests.RequestException as exc:
                return None, (exc, None)

        return run

    async def _call(self, call: Callable[[], T], *, what: str, idempotent: bool = True) -> T:
        """Run one python-gitlab call in a thread; 429 and transient errors are retried
        (429 honouring Retry-After, 5xx only when repeating is harmless), bounded."""
        for attempt in range(1, self._max_attempts + 1):
            result, failure = await asyncio.to_thread(self._in_thread(call))
            if failure is None:
                return result  # type: ignore[return-value]
            exc, retry_after = failure
            code = getattr(exc, "response_code", None)
            last = attempt == self._max_attempts
            if code == 429:
                wait = float(retry_after) if retry_after else self._backoff_s * 2**attempt
                if last or wait > self._max_wait_s:
                    raise RetryLater(f"GitLab rate limit while {what}", retry_after=wait) from exc
                logger.warning("GitLab rate limit while %s; waiting %.1f s", what, wait)
                await asyncio.sleep(wait)
                continue
            if code is None or code >= 500:
                if last or not idempotent:
                    raise RetryLater(
                        f"GitLab failed ({code}) while {what}", retry_after=30
                    ) from exc
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
                continue
            if isinstance(exc, GitlabAuthenticationError):
                raise ForgeError(f"GitLab refused the token while {what}",
                                 hint="check GITLAB_TOKEN and its api scope") from exc
            if code == 404:
                raise NotFound(f"GitLab: not found while {what}") from exc
            raise GitLabRefused(
                f"GitLab answered {code} while {what}: {exc.error_message}", status=code
            ) from exc
        raise AssertionError("unreachable")

    async def _get(self, path: str, **query: Any) -> Any:
        return await self._call(
            lambda: self._gl.http_get(path, query_data=query, **_OWN_RETRIES),
            what=f"GET {path}",
        )

    async def _put(self, path: str, **query: Any) -> Any:
        return await self._call(
            lambda: self._gl.http_put(path, query_data=query, **_OWN_RETRIES),
            what=f"PUT {path}",
        )

    async def _list(self, path: str, **query: Any) -> list[dict[str, Any]]:
        query = {"per_page": 100, **query}
        items = await self._call(
            lambda: self._gl.http_list(path, query_data=query, get_all=True, **_OWN_RETRIES),
            what=f"GET {path}",
        )
        return list(items)

    async def _me(self) -> int:
        if self._user_id is None:
            self._user_id = int((await self._get("/user"))["id"])
        return self._user_id

    # Read side ----------------------------------------------------------------------

    async def _mr(self, number: int) -> dict[str, Any]:
        return dict(await self._get(f"{self._path}/merge_requests/{number}"))

    async def _refs(self, number: int) -> Refs:
        """The latest MR version's SHAs (``diff_refs`` may still be empty right after the
        MR was opened; the versions endpoint is the source positions must match)."""
        versions = await self._list(f"{self._path}/merge_requests/{number}/versions")
        if not versions:
            raise RetryLater("GitLab has not computed the merge request diff yet", retry_after=10)
        latest = versions[0]  # newest first
        return Refs(
            latest["base_commit_sha"], latest["start_commit_sha"], latest["head_commit_sha"]
        )

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
            return await self._list(f"{url}/diffs")
        except NotFound:
            logger.info("no diffs endpoint (GitLab before 15.7); using changes")
            return list((await self._get(f"{url}/changes")).get("changes") or [])

    async def compare(self, base: str, head: str) -> Change:
        if is_null_sha(base):
            base = await self._default_branch()
        url = f"{self._path}/repository/compare"
        try:
            result = await self._get(url, **{"from": base, "to": head})
        except NotFound:
            logger.info("commit %s is gone; comparing %s with the default branch", base, head)
            base = await self._default_branch()
            result = await self._get(url, **{"from": base, "to": head})
        return await self._change(base, head, result.get("diffs") or [])

    async def _default_branch(self) -> str:
        return str((await self._get(self._path))["default_branch"])

    async def _change(self, base: str, head: str, diffs: Sequence[dict[str, Any]]) -> Change:
        files, skipped = await files_from_diffs(
            diffs, base_sha=base, head_sha=head, read=self.read_file,
            max_file_bytes=self._max_file_bytes,
        )
        return Change(base, head, files, skipped, start_sha=base)

    async def read_file(self, path: str, ref: str) -> bytes | None:
        url = f"{self._path}/repository/files/{quote(path, safe='')}/raw"
        try:
            response = await self._call(
                lambda: self._gl.http_get(
                    url, query_data={"ref": ref}, raw=True, **_OWN_RETRIES
                ),
                what=f"reading {path}",
            )
        except NotFound:
            return None
        data = response.content  # type: ignore[union-attr]  # raw=True: a requests.Response
        return None if len(data) > self._max_file_bytes else bytes(data)

    async def read_repo_config(self, ref: str) -> str | None:
        data = await self.read_file(CONFIG_PATH, ref)
        return None if data is None else data.decode("utf-8", errors="replace")

    async def list_tree(self, ref: str) -> Tree:
        items = await self._list(f"{self._path}/repository/tree", ref=ref, recursive=True)
        return Tree(item["path"] for item in items if item["type"] == "blob")

    async def close(self) -> None:
        await asyncio.to_thread(self._gl.session.close)

    # Publish ------------------------------------------------------------------------

    async def _notes(self, number: int) -> list[dict[str, Any]]:
        """Every note on the MR (discussion notes included), ours only."""
        me = await self._me()
        notes = await self._list(f"{self._path}/merge_requests/{number}/notes")
        return [n for n in notes if (n.get("author") or {}).get("id") == me]

    async def our_note_bodies(self, number: int) -> list[str]:
        return [str(n["body"]) for n in await self._notes(number)]

    async def version_refs(self, number: int) -> Refs:
        return await self._refs(number)

    async def file_diffs(self, number: int) -> list[dict[str, Any]]:
        return await self._diffs(number)

    async def post_note(self, number: int, body: str, key: str) -> None:
        """A general note; after a 5xx the MR is checked for ``key`` before trying again."""
        url = f"{self._path}/merge_requests/{number}/notes"
        for attempt in (1, 2, 3):
            try:
                await self._call(
                    lambda: self._gl.http_post(url, post_data={"body": body}, **_OWN_RETRIES),
                    what="posting a note",
                    idempotent=False,
                )
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
            await self._call(
                lambda: self._gl.http_post(url, post_data=data, **_OWN_RETRIES),
                what="starting a discussion",
                idempotent=False,
            )
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

    async def upsert_summary(self, target: ChangeTarget, body: str) -> str:
        if target.number is None:
            raise ForgeError("a summary note needs a merge request iid")
        async with publish_lock(self._redis, f"gitlab:summary:{self.project}!{target.number}"):
            return await self._upsert_summary(target.number, body)

    async def _upsert_summary(self, number: int, body: str) -> str:
        text = body if SUMMARY_MARKER in body else f"{SUMMARY_MARKER}\n{body}"
        text = limits.fit(text, limits.GITLAB_NOTE_MAX)
        for note in await self._notes(number):
            if SUMMARY_MARKER in note["body"]:
                edit = f"{self._path}/merge_requests/{number}/notes/{note['id']}"
                await self._call(
                    lambda u=edit: self._gl.http_put(  # type: ignore[misc]
                        u, post_data={"body": text}, **_OWN_RETRIES
                    ),
                    what="editing the summary note",
                )
                return str(note["id"])
        url = f"{self._path}/merge_requests/{number}/notes"
        created = await self._call(
            lambda: self._gl.http_post(url, post_data={"body": text}, **_OWN_RETRIES),
            what="posting the summary note",
            idempotent=False,
        )
        return str(created["id"])  # type: ignore[index]

    # Replies and permissions (comment commands) ------------------------------------

    async def post_comment(self, target: ChangeTarget, body: str) -> str:
        """A plain MR note (a reply to a command); returns its id."""
        if target.number is None:
            raise ForgeError("a note needs a merge request iid")
        url = f"{self._path}/merge_requests/{target.number}/notes"
        text = limits.fit(body, limits.GITLAB_NOTE_MAX)
        created = await self._call(
            lambda: self._gl.http_post(url, post_data={"body": text}, **_OWN_RETRIES),
            what="replying on the merge request",
            idempotent=False,
        )
        return str(created["id"])  # type: ignore[index]

    async def can_trigger(self, username: str) -> bool:
        """Whether ``username`` may run commands: Developer (30) or above on the project,
        inherited membership included (docs.gitlab.com/api/members/
        #get-a-member-of-a-group-or-project-including-inherited-and-invited-members)."""
        users = await self._list("/users", username=username)
        if not users:
            return False
        try:
            member = await self._get(f"{self._path}/members/all/{int(users[0]['id'])}")
        except NotFound:
            return False
        return int(member.get("access_level", 0)) >= _DEVELOPER

    # Commit status ------------------------------------------------------------------

    async def create_check(
        self, head_sha: str, update: CheckUpdate, target: ChangeTarget | None = None
    ) -> str:
        """Status ``auditbot`` on the commit; for an MR, on the source project (a fork's
        commit lives there) with the MR's branch and head pipeline."""
        status = StatusTarget(str(self.project), head_sha)
        if target is not None and target.number is not None:
            mr = await self._mr(target.number)
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
        url = f"{_project_path(status.project)}/statuses/{status.sha}"
        try:
            await self._call(
                lambda: self._gl.http_post(url, post_data=data, **_OWN_RETRIES),
                what="setting the commit status",
            )
        except GitLabRefused as exc:
            # A second "running" (a progress update) is refused: "Cannot transition status
            # via :run from :running". The status already says what we wanted.
            if exc.status == 400 and "Cannot transition status" in exc.message:
                return
            raise
