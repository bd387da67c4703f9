"""The request plumbing of one GitHub repository, acting as one App installation: every
githubkit call goes through :meth:`GitHubClient.call`, which maps GitHub's errors onto
auditbot's (``RetryLater`` for rate limits and outages, ``NotFound``, ``ForgeRefused``)
and asks for a new installation token once when GitHub refuses the cached one.

Reading changes, publishing and the conversation features (``forge``, ``conversation``,
``feedback``, ``code_scanning``) each hold this client; none of them catches githubkit's
exceptions itself. Authentication, the token cache and write pacing are ``auth``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from githubkit.exception import (
    GitHubException,
    GraphQLFailed,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)

from bot.errors import ForgeError, NotFound, RetryLater
from bot.forges.base import ForgeRefused
from bot.forges.github.auth import GitHubApp, secondary_limit_wait

logger = logging.getLogger(__name__)

T = TypeVar("T")

PER_PAGE = 100


def _token_refused(exc: RequestFailed) -> bool:
    """A 401 on a normal call: the installation token; not the App JWT's exchange."""
    return exc.response.status_code == 401 and not exc.request.url.path.endswith(
        "/access_tokens"
    )


def _message(exc: GitHubException) -> str:
    if isinstance(exc, RequestFailed):
        try:
            data = exc.response.raw_response.json()
        except ValueError:
            return str(exc.response.raw_response.text[:300])
        errors = data.get("errors") if isinstance(data, dict) else None
        message = data.get("message", "") if isinstance(data, dict) else str(data)
        return f"{message} {errors}" if errors else str(message)
    return repr(exc)


def translate(exc: GitHubException, what: str) -> Exception:
    """GitHub's error as auditbot's: what to retry, after how long, and what to tell."""
    if isinstance(exc, RateLimitExceeded):
        wait = exc.retry_after.total_seconds()
        return RetryLater(f"GitHub rate limit while {what}", retry_after=wait)
    if isinstance(exc, RequestTimeout):
        return RetryLater(f"GitHub did not answer while {what}: {exc!r}", retry_after=30)
    if not isinstance(exc, RequestFailed):
        return RetryLater(f"GitHub unreachable while {what}: {exc!r}", retry_after=30)
    code = exc.response.status_code
    secondary = secondary_limit_wait(exc)
    if secondary is not None:
        return RetryLater(f"GitHub secondary rate limit while {what}", retry_after=secondary)
    if code >= 500:
        return RetryLater(f"GitHub answered {code} while {what}", retry_after=30)
    token_exchange = exc.request.url.path.endswith("/access_tokens")
    if code == 404:
        hint = "the app is not installed there any more" if token_exchange else None
        return NotFound(f"GitHub: not found while {what}", hint=hint)
    hint = "check APP_ID and the private key" if code == 401 else None
    return ForgeRefused(
        f"GitHub answered {code} while {what}: {_message(exc)}", status=code, hint=hint
    )


class GitHubClient:
    """githubkit's client for one installation, bound to one repository."""

    def __init__(
        self,
        app: GitHubApp,
        *,
        installation_id: int,
        owner: str,
        repo: str,
        bot_login: str | None = None,
    ) -> None:
        self.app = app
        self.gh = app.client(installation_id)
        self.installation_id = installation_id
        self.owner = owner
        self.repo = repo
        self.bot_login = bot_login or app.bot_login
        self._opened = False

    async def call(self, make: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Run one githubkit call; errors become auditbot's (RetryLater, NotFound, ...).

        A 401 means GitHub no longer accepts the cached installation token (revoked, or
        expired before our clock said so): forget it and try once more with a new one.
        """
        for attempt in (1, 2):
            try:
                return await make()
            except GitHubException as raised:
                exc = raised
                if isinstance(exc, RequestError) and isinstance(exc.exc, GitHubException):
                    exc = exc.exc  # a failure of the token exchange inside the auth flow
                if attempt == 1 and isinstance(exc, RequestFailed) and _token_refused(exc):
                    logger.info("installation token refused; fetching a new one")
                    await self.app.forget_token(self.installation_id)
                    continue
                raise translate(exc, what) from raised
        raise AssertionError("unreachable")

    async def pages(
        self, fetch: Callable[[int], Awaitable[Any]], *, what: str, max_items: int
    ) -> list[Any]:
        """Every item of a paginated listing, ``PER_PAGE`` at a time, at most ``max_items``."""
        items: list[Any] = []
        page = 1
        while len(items) < max_items:
            response = await self.call(lambda p=page: fetch(p), what=what)  # type: ignore[misc]
            batch = list(response.parsed_data)
            items.extend(batch)
            if len(batch) < PER_PAGE:
                break
            page += 1
        return items[:max_items]

    async def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            try:
                return dict(await self.gh.async_graphql(query, variables))
            except GraphQLFailed as exc:
                errors = exc.response.errors or []
                text = "; ".join(e.message for e in errors[:3])
                if any(e.type == "NOT_FOUND" for e in errors):
                    raise NotFound(f"GitHub GraphQL: {text}") from exc
                raise ForgeError(f"GitHub refused a GraphQL request: {text}") from exc

        return await self.call(run, what="calling GitHub's GraphQL API")

    def ours(self, user: Any) -> bool:
        """Whether a REST user object is auditbot's own account."""
        if user is None:
            return False
        if self.bot_login is not None:
            return bool(user.login == self.bot_login)
        return bool(user.type == "Bot")

    def graph_ours(self, author: Mapping[str, Any] | None) -> bool:
        """The same for a GraphQL author."""
        if not author:
            return False
        if self.bot_login is not None:
            # GraphQL names an app's bot by its slug, without REST's "[bot]".
            return bool(author.get("login") == self.bot_login.removesuffix("[bot]"))
        return bool(author.get("__typename") == "Bot")

    async def open(self) -> None:
        """Enter githubkit's client context in the caller's task.

        githubkit keeps its HTTP client in a context variable; outside ``async with`` it
        builds a client (loading the CA bundle, ~40 ms of CPU) for every request. Opened
        once in the job's task, every request of the job, including those of tasks it
        starts, shares one connection pool.
        """
        if self._opened:
            return
        try:
            await self.gh.__aenter__()
        except RuntimeError:
            return  # this context already has the installation's client open: share it
        self._opened = True

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await self.gh.__aexit__(None, None, None)
