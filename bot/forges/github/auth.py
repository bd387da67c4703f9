"""GitHub App authentication and request pacing for githubkit clients.

githubkit signs the App JWT (RS256, ten minutes) and exchanges it for installation tokens,
which it keeps in its cache strategy until a minute before they expire. With the Redis
strategy every worker process shares the same tokens. This module adds what githubkit
leaves to its users: one content-creating request per installation at a time with a pause
between them (shared through Redis too), bounded retries, and forgetting a token GitHub
stopped accepting, and the client's timeout on the requests githubkit's auth flow sends
itself (the installation token's exchange).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Generator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from githubkit import AppInstallationAuthStrategy, GitHub
from githubkit.auth.app import AppAuth
from githubkit.cache import AsyncRedisCacheStrategy
from githubkit.exception import (
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
    SecondaryRateLimitExceeded,
)
from githubkit.retry import RetryOption
from githubkit.throttling import BaseThrottler
from redis.asyncio import Redis

from bot.config import Settings
from bot.errors import ConfigError
from bot.forges.locks import leased_lock, publish_lock
from bot.forges.metrics import count_answer, count_no_answer

if TYPE_CHECKING:
    from githubkit import GitHubCore

logger = logging.getLogger(__name__)

CACHE_PREFIX = "auditbot:github"
# GitHub's "content-creating" requests: the ones the secondary limits count most heavily.
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# Requests that may be repeated without creating anything twice.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PATCH", "PUT", "DELETE"})


class WriteSpacing(BaseThrottler):  # type: ignore[misc]
    """Content-creating requests of one installation one at a time, ``spacing_s`` apart.

    "If you are making a large number of POST, PATCH, PUT, or DELETE requests for a single
    user or client ID, wait at least one second between each request."
    (docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api).
    The lock and the time of the last write live in Redis so that every worker honours them.
    """

    def __init__(
        self,
        redis: Redis,
        installation_id: int,
        *,
        spacing_s: float = 1.0,
        lock_timeout_s: float = 120.0,
        max_concurrency: int = 50,
    ) -> None:
        self._redis = redis
        self._spacing_s = spacing_s
        self._lock_timeout_s = lock_timeout_s
        self._lock_key = f"{CACHE_PREFIX}:write-lock:{installation_id}"
        self._last_key = f"{CACHE_PREFIX}:last-write:{installation_id}"
        # "No more than 100 concurrent requests are allowed" across REST and GraphQL.
        self._reads = asyncio.Semaphore(max_concurrency)

    @contextmanager
    def acquire(self, request: httpx.Request) -> Generator[None, Any, Any]:
        raise NotImplementedError("auditbot uses githubkit's async API only")
        yield  # pragma: no cover

    async def _now(self) -> float:
        seconds, micros = await self._redis.time()
        return float(seconds) + float(micros) / 1_000_000

    @asynccontextmanager
    async def async_acquire(self, request: httpx.Request) -> AsyncGenerator[None, Any]:
        if request.method not in _WRITE_METHODS:
            async with self._reads:
                yield
            return
        async with leased_lock(self._redis, self._lock_key, wait_s=self._lock_timeout_s):
            last = await self._redis.get(self._last_key)
            if last is not None:
                wait = float(last) + self._spacing_s - await self._now()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                yield
            finally:
                await self._redis.set(
                    self._last_key, repr(await self._now()), ex=max(1, int(self._spacing_s) + 1)
                )


class TimedAuth(httpx.Auth):
    """An auth flow whose own requests carry the client's timeout.

    httpx gives the client's timeout to the request it is asked to send (``build_request``
    and ``send`` put it in ``request.extensions``), not to the requests an auth flow yields
    in between: githubkit's installation token exchange (``AppAuth`` builds a bare
    ``httpx.Request`` for ``POST /app/installations/{id}/access_tokens``) went out with no
    timeout at all, so a GitHub that took the connection and never answered held the job
    until its time limit. Every request the wrapped flow yields without a timeout gets
    ``timeout``; the rest of the flow (headers, the token cache, its errors) is unchanged.
    """

    def __init__(self, flow: httpx.Auth, timeout: httpx.Timeout) -> None:
        self._flow = flow
        self._timeout = timeout.as_dict()
        self.requires_request_body = flow.requires_request_body
        self.requires_response_body = flow.requires_response_body

    def _timed(self, request: httpx.Request) -> httpx.Request:
        request.extensions.setdefault("timeout", self._timeout)
        return request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise NotImplementedError("auditbot uses githubkit's async API only")
        yield  # pragma: no cover

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._flow.async_auth_flow(request)
        try:
            outgoing = await flow.__anext__()
            while True:
                response = yield self._timed(outgoing)
                try:
                    outgoing = await flow.asend(response)
                except StopAsyncIteration:
                    return
        finally:
            await flow.aclose()


class InstallationAuth(AppInstallationAuthStrategy):  # type: ignore[misc]
    """githubkit's installation authentication, with the client's timeout on the token's
    exchange too (:class:`TimedAuth`)."""

    def get_auth_flow(self, github: GitHubCore[Any]) -> httpx.Auth:
        return TimedAuth(super().get_auth_flow(github), github.config.timeout)


class RetryPolicy:
    """githubkit's retry decision: rate limits waited out when the wait is short, 5xx and
    timeouts of idempotent requests retried with exponential backoff; all bounded.

    Rules from docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
    #exceeding-the-rate-limit: wait ``retry-after`` seconds, else until
    ``x-ratelimit-reset``, else at least a minute; wait exponentially longer while a
    secondary limit persists. A wait beyond ``max_wait_s`` is not slept: the adapter turns
    the error into RetryLater and the job queue waits instead of a worker.
    """

    def __init__(self, *, max_retries: int = 3, max_wait_s: float = 60.0, backoff_s: float = 1.0):
        self.max_retries = max_retries
        self.max_wait_s = max_wait_s
        self.backoff_s = backoff_s

    def __call__(self, exc: GitHubException, retry_count: int) -> RetryOption:
        # githubkit hands every failed attempt here, answered or not: the one place a
        # request that got no answer is seen (answers are counted by the response hook).
        if isinstance(exc, RequestError) and isinstance(exc.exc, httpx.TransportError):
            count_no_answer("github")
        if retry_count >= self.max_retries:
            return RetryOption(False)
        wait = secondary_limit_wait(exc)
        if isinstance(exc, RateLimitExceeded) or wait is not None:
            if wait is None:
                wait = exc.retry_after.total_seconds()
            if isinstance(exc, SecondaryRateLimitExceeded) or not isinstance(
                exc, RateLimitExceeded
            ):
                wait = max(wait, self.backoff_s) * (2**retry_count)
            if wait > self.max_wait_s:
                return RetryOption(False)
            logger.warning("GitHub rate limit on %s; retrying in %.1f s", exc.request.url, wait)
            return RetryOption(True, timedelta(seconds=wait))
        # A POST that timed out or failed with 5xx may have been applied: the adapter
        # checks what exists before trying again, so only idempotent calls retry here.
        transient = isinstance(exc, RequestTimeout) or (
            isinstance(exc, RequestFailed) and exc.response.status_code >= 500
        )
        if not transient or exc.request.method not in _IDEMPOTENT_METHODS:
            return RetryOption(False)
        return RetryOption(True, timedelta(seconds=self.backoff_s * (2**retry_count)))


async def _count_answer(response: httpx.Response) -> None:
    count_answer("github", response.status_code)


def secondary_limit_wait(exc: GitHubException) -> float | None:
    """60 s for a secondary limit githubkit does not recognise (a 403/429 saying so, with
    neither ``retry-after`` nor ``x-ratelimit-remaining: 0``): "wait for at least one
    minute before retrying"; None for any other error."""
    if isinstance(exc, RateLimitExceeded) or not isinstance(exc, RequestFailed):
        return None
    response = exc.response.raw_response
    if response.status_code in (403, 429) and "secondary rate limit" in response.text:
        return 60.0
    return None


class GitHubApp:
    """Builds one githubkit client per installation; created once per process."""

    def __init__(
        self,
        *,
        app_id: int,
        private_key: str,
        redis: Redis,
        api_url: str = "https://api.github.com",
        write_spacing_s: float = 1.0,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        app_slug: str | None = None,
    ) -> None:
        self.app_id = app_id
        # Comments by "<slug>[bot]" are ours; without a slug any bot's marker is trusted.
        self.bot_login = f"{app_slug}[bot]" if app_slug else None
        self.api_url = api_url
        self._private_key = private_key
        self._redis = redis
        self._write_spacing_s = write_spacing_s
        self._timeout_s = timeout_s
        self._retry = retry or RetryPolicy()
        self._cache = AsyncRedisCacheStrategy(redis, prefix=CACHE_PREFIX)
        self._clients: dict[int, GitHub[AppInstallationAuthStrategy]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis, **kwargs: Any) -> GitHubApp:
        key = settings.github_private_key()
        if settings.app_id is None or key is None:
            raise ConfigError("APP_ID", "the GitHub App is not configured")
        return cls(
            app_id=settings.app_id,
            private_key=key,
            redis=redis,
            api_url=settings.github_api_url,
            app_slug=settings.app_slug,
            **kwargs,
        )

    def client(self, installation_id: int) -> GitHub[AppInstallationAuthStrategy]:
        """The installation's client; its token comes from (and goes to) Redis."""
        client = self._clients.get(installation_id)
        if client is None:
            client = GitHub(
                InstallationAuth(self.app_id, self._private_key, installation_id),
                base_url=self.api_url,
                user_agent="auditbot",
                timeout=self._timeout_s,
                cache_strategy=self._cache,
                http_cache=False,
                auto_retry=self._retry,
                throttler=WriteSpacing(
                    self._redis, installation_id, spacing_s=self._write_spacing_s
                ),
                async_event_hooks={"response": [_count_answer]},
            )
            self._clients[installation_id] = client
        return client

    async def forget_token(self, installation_id: int) -> None:
        """Drop a cached installation token GitHub refused (revoked, or expired early)."""
        key = AppAuth.INSTALLATION_CACHE_KEY.format(
            issuer=str(self.app_id),
            installation_id=installation_id,
            permissions="",
            repositories="",
            repository_ids="",
        )
        await self._redis.delete(f"{CACHE_PREFIX}:{key}")

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """One holder at a time across workers (two retries of one job must not both post)."""
        return publish_lock(self._redis, f"github:{name}")
