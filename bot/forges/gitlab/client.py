"""The request plumbing of one GitLab project through python-gitlab: every call runs in a
worker thread (python-gitlab is synchronous) and goes through :meth:`GitLabClient.call`,
which retries 429s and transient errors on the event loop and maps GitLab's errors onto
auditbot's (``RetryLater``, ``NotFound``, ``ForgeRefused``, a refused token's hint).

python-gitlab's own retry sleeps inside its thread for as long as ``Retry-After`` says, so
it is switched off; this client waits on the event loop instead, within ``max_wait_s``, and
hands longer waits to the job queue as RetryLater. Reading, publishing and the conversation
(``forge``, ``feedback``, ``conversation``) each hold this client.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import gitlab
import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError

from bot.config import Settings
from bot.errors import ConfigError, ForgeError, NotFound, RetryLater
from bot.forges.base import ForgeRefused
from bot.forges.metrics import count_answer, count_no_answer

logger = logging.getLogger(__name__)

T = TypeVar("T")

# python-gitlab would sleep in its thread for any Retry-After; this client retries instead.
_OWN_RETRIES: dict[str, Any] = {
    "obey_rate_limit": False,
    "max_retries": 0,
    "retry_transient_errors": False,
}


# What requests raises for a request that got no answer, or only part of one (python-gitlab
# calls these transient too); an answer with a status is counted by the response hook.
_NO_ANSWER = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class _Capture(threading.local):
    retry_after: str | None = None


def project_path(project: int | str) -> str:
    return f"/projects/{quote(str(project), safe='')}"


class GitLabClient:
    """python-gitlab's client for one token, bound to one project (``path``)."""

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
    ) -> None:
        self._capture = _Capture()
        session = requests.Session()
        session.hooks["response"].append(self._remember_retry_after)
        self.gl = gitlab.Gitlab(
            url, private_token=token, timeout=timeout_s, session=session, per_page=100
        )
        self.project = project
        self.path = project_path(project)
        self._max_attempts = max_attempts
        self._max_wait_s = max_wait_s
        self._backoff_s = backoff_s
        self._user_id: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings, project: int | str) -> GitLabClient:
        """The client for ``project`` on GITLAB_URL with GITLAB_TOKEN."""
        if settings.gitlab_token is None:
            raise ConfigError("GITLAB_TOKEN", "GitLab is not configured")
        return cls(
            url=settings.gitlab_url,
            token=settings.gitlab_token.get_secret_value(),
            project=project,
        )

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
                if isinstance(exc, _NO_ANSWER):
                    count_no_answer("gitlab")
                return None, (exc, None)

        return run

    async def call(self, call: Callable[[], T], *, what: str, idempotent: bool = True) -> T:
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
            raise ForgeRefused(
                f"GitLab answered {code} while {what}: {exc.error_message}", status=code
            ) from exc
        raise AssertionError("unreachable")

    async def get(self, path: str, **query: Any) -> Any:
        return await self.call(
            lambda: self.gl.http_get(path, query_data=query, **_OWN_RETRIES),
            what=f"GET {path}",
        )

    async def get_raw(self, path: str, *, what: str, **query: Any) -> bytes:
        """A file's bytes (``raw=True``: python-gitlab hands back the response)."""
        response = await self.call(
            lambda: self.gl.http_get(path, query_data=query, raw=True, **_OWN_RETRIES),
            what=what,
        )
        return bytes(response.content)  # type: ignore[union-attr]

    async def put(self, path: str, **query: Any) -> Any:
        return await self.call(
            lambda: self.gl.http_put(path, query_data=query, **_OWN_RETRIES),
            what=f"PUT {path}",
        )

    async def put_data(self, path: str, data: dict[str, Any], *, what: str) -> Any:
        return await self.call(
            lambda: self.gl.http_put(path, post_data=data, **_OWN_RETRIES), what=what
        )

    async def post(
        self, path: str, data: dict[str, Any], *, what: str, idempotent: bool = False
    ) -> Any:
        """A POST; not repeated after a 5xx unless ``idempotent`` (it may have landed)."""
        return await self.call(
            lambda: self.gl.http_post(path, post_data=data, **_OWN_RETRIES),
            what=what,
            idempotent=idempotent,
        )

    async def list_all(self, path: str, **query: Any) -> list[dict[str, Any]]:
        query = {"per_page": 100, **query}
        items = await self.call(
            lambda: self.gl.http_list(path, query_data=query, get_all=True, **_OWN_RETRIES),
            what=f"GET {path}",
        )
        return list(items)

    async def me(self) -> int:
        """The token's own user id (auditbot's account), asked once."""
        if self._user_id is None:
            self._user_id = int((await self.get("/user"))["id"])
        return self._user_id

    async def close(self) -> None:
        await asyncio.to_thread(self.gl.session.close)
