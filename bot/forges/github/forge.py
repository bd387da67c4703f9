"""GitHub through githubkit: pull request changes in, reviews, summary and check runs out.

One adapter per repository and installation, over the :class:`GitHubClient` made for them
(``bot/jobs/forge_factory.py``); the shared ``GitHubApp`` (auth, token cache in Redis, write
pacing, retries) is built once per process.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from bot.errors import ForgeError, NotFound
from bot.forges import limits
from bot.forges.base import (
    CHECK_NAME,
    CONFIG_PATH,
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
)
from bot.forges.feedback import Accept, marker_key
from bot.forges.github.client import PER_PAGE, GitHubClient
from bot.forges.github.code_scanning import GitHubCodeScanning
from bot.forges.github.conversation import GitHubConversation
from bot.forges.github.feedback import GitHubFeedback
from bot.forges.github.files import files_from_entries
from bot.forges.github.payloads import check_create, check_updates
from bot.forges.github.review import ReviewInfo, ReviewPublisher

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SIDE = {"new": "RIGHT", "old": "LEFT"}


# Kept under its old name for callers that catch it.
GitHubRefused = ForgeRefused


class GitHubForge:
    """The forge interface for one GitHub repository, acting as one App installation
    (:class:`bot.forges.base.PullRequestForge`). The request plumbing is ``client``'s; the
    conversation and code scanning are parts it holds."""

    def __init__(
        self,
        client: GitHubClient,
        *,
        max_files: int = limits.PR_FILES_MAX,
        max_file_bytes: int = 1_000_000,
        max_probes: int = 40,
        post_attempts: int = 3,
        post_backoff_s: float = 2.0,
    ) -> None:
        self.client = client
        self._gh = client.gh
        self.owner = client.owner
        self.repo = client.repo
        self.conversation = GitHubConversation(self.client)
        self.code_scanning: GitHubCodeScanning | None = GitHubCodeScanning(self.client)
        self._threads = GitHubFeedback(self.client)
        self._max_files = max_files
        self._max_file_bytes = max_file_bytes
        self._max_probes = max_probes
        self._post_attempts = post_attempts
        self._post_backoff_s = post_backoff_s
        self._changes: dict[tuple[int, str], Change] = {}

    # Pull request features ----------------------------------------------------------

    async def resolve_findings(self, target: ChangeTarget, keys: Sequence[str]) -> int:
        return await self._threads.resolve_findings(target, keys)

    async def feedback(self, target: ChangeTarget, accept: Accept | None = None) -> dict[str, str]:
        return await self._threads.feedback(target, accept)

    async def post_comment(self, target: ChangeTarget, body: str) -> str:
        return await self.conversation.post_comment(target, body)

    async def can_trigger(self, username: str) -> bool:
        return await self.conversation.can_trigger(username)

    async def version_base(self, number: int) -> str | None:
        """None: GitHub's pull request events name the base SHA themselves."""
        return None

    # Read side ----------------------------------------------------------------------

    async def fetch_change(self, target: ChangeTarget) -> Change:
        if target.number is None:
            if target.base is None or target.head is None:
                raise ForgeError("GitHub needs a pull request number or both base and head")
            return await self.compare(target.base, target.head)
        number = target.number
        pull = await self._pull(number)
        entries = await self.client.pages(
            lambda page: self._gh.rest.pulls.async_list_files(
                self.owner, self.repo, number, per_page=PER_PAGE, page=page
            ),
            what=f"listing the files of #{number}",
            max_items=self._max_files,
        )
        truncated = None
        if pull.changed_files > len(entries):
            truncated = (
                f"the pull request changes {pull.changed_files} files; GitHub lists only "
                f"the first {len(entries)}"
            )
        change = await self._change(pull.base.sha, pull.head.sha, entries, truncated)
        self._changes[(number, change.head_sha)] = change
        return change

    async def _pull(self, number: int) -> Any:
        response = await self.client.call(
            lambda: self._gh.rest.pulls.async_get(self.owner, self.repo, number),
            what=f"reading pull request #{number}",
        )
        return response.parsed_data

    async def open_pulls(self, limit: int = 100) -> list[OpenPull]:
        """Open pull requests, most recently created first (at most ``limit``)."""
        pulls = await self.client.pages(
            lambda page: self._gh.rest.pulls.async_list(
                self.owner, self.repo, state="open", per_page=PER_PAGE, page=page
            ),
            what="listing open pull requests",
            max_items=limit,
        )
        return [
            OpenPull(number=p.number, head_sha=p.head.sha, head_ref=p.head.ref,
                     base_sha=p.base.sha, base_ref=p.base.ref,
                     author=p.user.login if p.user else None, draft=bool(p.draft))
            for p in pulls
        ]

    async def pull_head(self, number: int) -> str:
        return str((await self._pull(number)).head.sha)

    async def compare(self, base: str, head: str) -> Change:
        if is_null_sha(base):
            base = await self._default_branch()  # a branch's first push
        try:
            comparison = await self._compare(base, head)
        except NotFound:
            # The push's "before" is gone (force-push): compare with the default branch.
            logger.info("commit %s is gone; comparing %s with the default branch", base, head)
            base = await self._default_branch()
            comparison = await self._compare(base, head)
        files = list(comparison.files or [])
        truncated = None
        if len(files) >= 300:
            truncated = "GitHub's comparison lists at most 300 files; later files were not seen"
        return await self._change(comparison.merge_base_commit.sha, head, files, truncated)

    async def _compare(self, base: str, head: str) -> Any:
        response = await self.client.call(
            lambda: self._gh.rest.repos.async_compare_commits(
                self.owner, self.repo, f"{base}...{head}"
            ),
            what=f"comparing {base}...{head}",
        )
        return response.parsed_data

    async def _default_branch(self) -> str:
        repo = await self.client.call(
            lambda: self._gh.rest.repos.async_get(self.owner, self.repo), what="reading the repo"
        )
        return str(repo.parsed_data.default_branch)

    async def _change(
        self, base_sha: str, head_sha: str, entries: Sequence[Any], truncated: str | None
    ) -> Change:
        files, skipped = await files_from_entries(
            entries, base_sha=base_sha, head_sha=head_sha, read=self.read_file,
            max_file_bytes=self._max_file_bytes,
        )
        return Change(base_sha, head_sha, files, skipped, truncated, start_sha=base_sha)

    async def read_file(self, path: str, ref: str) -> bytes | None:
        try:
            response = await self.client.call(
                lambda: self._gh.rest.repos.async_get_content(self.owner, self.repo, path, ref=ref),
                what=f"reading {path}",
            )
        except NotFound:
            return None
        content = response.parsed_data
        if isinstance(content, list) or getattr(content, "type", None) != "file":
            return None
        if content.size > self._max_file_bytes or content.encoding != "base64":
            return None  # over 1 MB GitHub sends no content ("encoding": "none")
        return base64.b64decode(content.content)

    async def read_repo_config(self, ref: str) -> str | None:
        data = await self.read_file(CONFIG_PATH, ref)
        return None if data is None else data.decode("utf-8", errors="replace")

    async def list_tree(self, ref: str) -> Tree:
        tree = (
            await self.client.call(
                lambda: self._gh.rest.git.async_get_tree(self.owner, self.repo, ref, recursive="1"),
                what=f"listing the tree of {ref}",
            )
        ).parsed_data
        paths = [item.path for item in tree.tree if item.type == "blob"]
        if not tree.truncated:
            return Tree(paths)
        # "If truncated is true ... the number of items in the tree array exceeded our
        # maximum limit" (docs.github.com/en/rest/git/trees#get-a-tree).
        logger.warning("GitHub truncated the tree of %s: some files are not listed", ref)
        note = f"GitHub listed only part of the tree; the scan covers the {len(paths)} files listed"
        return Tree(paths, truncated=note)

    async def open(self) -> None:
        """Enter githubkit's client context in the caller's task (see ``GitHubClient``)."""
        await self.client.open()

    async def close(self) -> None:
        await self.client.close()

    # Reviews ------------------------------------------------------------------------

    async def list_reviews(self, number: int) -> list[ReviewInfo]:
        reviews = await self.client.pages(
            lambda page: self._gh.rest.pulls.async_list_reviews(
                self.owner, self.repo, number, per_page=PER_PAGE, page=page
            ),
            what=f"listing the reviews of #{number}",
            max_items=10_000,
        )
        return [ReviewInfo(r.id, r.state, r.body or "", self.client.ours(r.user)) for r in reviews]

    async def commented_keys(self, number: int) -> frozenset[str]:
        """The finding keys of our review comments on the pull request, at any head."""
        comments = await self.client.pages(
            lambda page: self._gh.rest.pulls.async_list_review_comments(
                self.owner, self.repo, number, per_page=PER_PAGE, page=page
            ),
            what=f"listing the review comments of #{number}",
            max_items=10_000,
        )
        keys = (marker_key(c.body) for c in comments if self.client.ours(c.user))
        return frozenset(k for k in keys if k is not None)

    async def create_review(self, number: int, payload: dict[str, Any]) -> int:
        review = await self.client.call(
            lambda: self._gh.rest.pulls.async_create_review(
                self.owner, self.repo, number, data=payload
            ),
            what=f"posting a review on #{number}",
        )
        return int(review.parsed_data.id)

    async def delete_pending_review(self, number: int, review_id: int) -> None:
        await self.client.call(
            lambda: self._gh.rest.pulls.async_delete_pending_review(
                self.owner, self.repo, number, review_id
            ),
            what=f"deleting pending review {review_id}",
        )

    async def publish_review(
        self,
        target: ChangeTarget,
        head_sha: str,
        comments: Sequence[InlineComment],
        body: str,
    ) -> ReviewResult:
        if target.number is None:
            raise ForgeError("a review needs a pull request number")
        number = target.number
        publisher = ReviewPublisher(
            self,
            max_probes=self._max_probes,
            post_attempts=self._post_attempts,
            post_backoff_s=self._post_backoff_s,
        )
        async with self.client.app.lock(f"review:{self.owner}/{self.repo}#{number}"):
            change = self._changes.get((number, head_sha)) or await self.fetch_change(target)
            return await publisher.publish(number, head_sha, comments, body, change)

    # Summary comment ----------------------------------------------------------------

    async def upsert_summary(self, target: ChangeTarget, body: str) -> str:
        if target.number is None:
            raise ForgeError("a summary comment needs a pull request number")
        async with self.client.app.lock(f"summary:{self.owner}/{self.repo}#{target.number}"):
            return await self._upsert_summary(target.number, body)

    async def _upsert_summary(self, number: int, body: str) -> str:
        text = body if SUMMARY_MARKER in body else f"{SUMMARY_MARKER}\n{body}"
        text = limits.fit(text, limits.GITHUB_BODY_MAX)
        comments = await self.client.pages(
            lambda page: self._gh.rest.issues.async_list_comments(
                self.owner, self.repo, number, per_page=PER_PAGE, page=page
            ),
            what=f"listing the comments of #{number}",
            max_items=10_000,
        )
        for comment in comments:
            if self.client.ours(comment.user) and SUMMARY_MARKER in (comment.body or ""):
                comment_id = int(comment.id)
                await self.client.call(
                    lambda c=comment_id: self._gh.rest.issues.async_update_comment(  # type: ignore[misc]
                        self.owner, self.repo, c, body=text
                    ),
                    what="editing the summary comment",
                )
                return str(comment_id)
        created = await self.client.call(
            lambda: self._gh.rest.issues.async_create_comment(
                self.owner, self.repo, number, body=text
            ),
            what="posting the summary comment",
        )
        return str(created.parsed_data.id)

    # Check runs ---------------------------------------------------------------------

    async def create_check(
        self, head_sha: str, update: CheckUpdate, target: ChangeTarget | None = None,
        *, key: str | None = None,
    ) -> str:
        create, patches = check_create(head_sha, update, key)
        run = await self.client.call(
            lambda: self._gh.rest.checks.async_create(self.owner, self.repo, data=create),
            what="creating the check run",
        )
        check_id = str(run.parsed_data.id)
        await self._patch_check(check_id, patches)
        return check_id

    async def find_check(self, head_sha: str, key: str) -> str | None:
        """Our run for ``head_sha`` created with ``key``: a POST that GitHub applied while
        its answer was lost (a 502, a timeout) must not leave a second run open."""
        runs = await self.client.call(
            lambda: self._gh.rest.checks.async_list_for_ref(
                self.owner, self.repo, head_sha, check_name=CHECK_NAME, filter_="all",
                per_page=PER_PAGE,
            ),
            what=f"listing the check runs of {head_sha[:12]}",
        )
        found = [r for r in runs.parsed_data.check_runs if r.external_id == key]
        return str(found[0].id) if found else None

    async def update_check(self, check_id: str, update: CheckUpdate) -> None:
        await self._patch_check(check_id, check_updates(update))

    async def _patch_check(self, check_id: str, patches: Sequence[dict[str, Any]]) -> None:
        for payload in patches:
            await self.client.call(
                lambda p=payload: self._gh.rest.checks.async_update(  # type: ignore[misc]
                    self.owner, self.repo, int(check_id), data=p
                ),
                what=f"updating check run {check_id}",
            )
