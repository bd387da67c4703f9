"""The GitHub App's own endpoints, authenticated with the App JWT (never an installation
token): the App's record (its slug) and its webhook deliveries, so that deliveries our web
process missed or refused can be redelivered.

docs.github.com/en/rest/apps/apps#get-the-authenticated-app,
docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook and
#redeliver-a-delivery-for-an-app-webhook.

Its failures count in ``auditbot_forge_errors_total`` as the installation clients' do
(``bot.forges.metrics``): each answer of 400 or more by its status, each request that got
no answer (refused, reset, timed out) as ``no_answer``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx
from githubkit import AppAuthStrategy, GitHub
from githubkit.exception import GitHubException, RequestError, RequestFailed

from bot.config import Settings
from bot.errors import ConfigError, ForgeError, NotFound, RetryLater
from bot.forges.metrics import count_answer, count_no_answer

logger = logging.getLogger(__name__)

_PER_PAGE = 100


@dataclass(frozen=True)
class Delivery:
    """One attempt at delivering one event; redeliveries share the event's ``guid``."""

    id: int
    guid: str
    delivered_at: datetime
    status_code: int  # 0 when GitHub got no answer at all
    redelivery: bool
    event: str
    action: str | None

    @property
    def failed(self) -> bool:
        return not 200 <= self.status_code < 300


@dataclass(frozen=True)
class AppInfo:
    """The App as GitHub describes it to itself (``GET /app``)."""

    id: int
    slug: str
    name: str
    html_url: str
    permissions: dict[str, str]
    events: tuple[str, ...]
    installations: int | None  # GitHub tells only the App itself


class AppHooks:
    def __init__(
        self, *, app_id: int, private_key: str, api_url: str = "https://api.github.com",
        timeout_s: float = 30.0, max_pages: int = 20,
    ) -> None:
        self._app_id = app_id
        self._private_key = private_key
        self._api_url = api_url
        self._timeout_s = timeout_s
        self._max_pages = max_pages

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: float | int) -> AppHooks:
        key = settings.github_private_key()
        if settings.app_id is None or key is None:
            raise ConfigError("APP_ID", "the GitHub App is not configured")
        return cls(
            app_id=settings.app_id, private_key=key, api_url=settings.github_api_url,
            **kwargs,  # type: ignore[arg-type]
        )

    @asynccontextmanager
    async def _client(self, what: str) -> AsyncIterator[GitHub[AppAuthStrategy]]:
        gh = GitHub(
            AppAuthStrategy(self._app_id, self._private_key),
            base_url=self._api_url,
            user_agent="auditbot",
            timeout=self._timeout_s,
            http_cache=False,
            auto_retry=False,
            async_event_hooks={"response": [_count_answer]},
        )
        try:
            async with gh:
                yield gh
        except GitHubException as exc:
            # Answers were counted by the hook; a request without one is counted here
            # (no retries here: each failed request reaches this once).
            if isinstance(exc, RequestError) and isinstance(exc.exc, httpx.TransportError):
                count_no_answer("github")
            raise _translate(exc, what) from exc

    async def slug(self) -> str:
        """The App's slug: its bot posts as ``<slug>[bot]``, people mention ``@<slug>``."""
        app = await self.app()
        if not app.slug:
            raise ForgeError("GitHub did not tell the app's slug", hint="set APP_SLUG")
        return app.slug

    async def app(self) -> AppInfo:
        """``GET /app`` with the App JWT: proves APP_ID and the private key belong together."""
        async with self._client("reading the app") as gh:
            app = (await gh.rest.apps.async_get_authenticated()).parsed_data
        if app is None:
            raise ForgeError("GitHub answered GET /app without an app")
        permissions = app.permissions.model_dump(exclude_none=True, exclude_unset=True)
        count = app.installations_count
        return AppInfo(
            id=app.id, slug=str(app.slug or ""), name=app.name, html_url=app.html_url,
            permissions={k: str(v) for k, v in permissions.items() if isinstance(v, str)},
            events=tuple(app.events), installations=count if isinstance(count, int) else None,
        )

    async def deliveries(self, since: datetime) -> list[Delivery]:
        """Deliveries at or after ``since``, newest first (GitHub's order), following the
        cursor until an older one shows up."""
        found: list[Delivery] = []
        cursor: str | None = None
        async with self._client("listing webhook deliveries") as gh:
            for _ in range(self._max_pages):
                if cursor is None:
                    response = await gh.rest.apps.async_list_webhook_deliveries(per_page=_PER_PAGE)
                else:
                    response = await gh.rest.apps.async_list_webhook_deliveries(
                        per_page=_PER_PAGE, cursor=cursor
                    )
                page = [
                    Delivery(
                        id=item.id, guid=item.guid, delivered_at=item.delivered_at,
                        status_code=item.status_code, redelivery=item.redelivery,
                        event=item.event, action=item.action,
                    )
                    for item in response.parsed_data
                ]
                found.extend(d for d in page if d.delivered_at >= since)
                cursor = _next_cursor(response.raw_response)
                if cursor is None or not page or page[-1].delivered_at < since:
                    break
        return found

    async def webhook(self) -> tuple[str | None, bool]:
        """Where GitHub sends the App's deliveries, and whether it checks that host's TLS
        certificate (docs.github.com/en/rest/apps/webhooks, "Get a webhook configuration for
        an app")."""
        async with self._client("reading the app's webhook") as gh:
            config = (await gh.rest.apps.async_get_webhook_config_for_app()).parsed_data
        url = config.url if isinstance(config.url, str) else None
        return url, str(config.insecure_ssl) != "1"

    async def redeliver(self, delivery_id: int) -> None:
        async with self._client(f"redelivering delivery {delivery_id}") as gh:
            await gh.rest.apps.async_redeliver_webhook_delivery(delivery_id)


async def _count_answer(response: httpx.Response) -> None:
    count_answer("github", response.status_code)


def _next_cursor(response: httpx.Response) -> str | None:
    """The ``cursor`` of the Link header's next page: this endpoint pages by cursor, not
    by page number."""
    url = response.links.get("next", {}).get("url")
    return httpx.URL(url).params.get("cursor") if url else None


def _translate(exc: GitHubException, what: str) -> Exception:
    if not isinstance(exc, RequestFailed):
        return RetryLater(f"GitHub unreachable while {what}: {exc!r}", retry_after=60)
    code = exc.response.status_code
    if code >= 500 or code == 429:
        return RetryLater(f"GitHub answered {code} while {what}", retry_after=60)
    if code == 404:
        return NotFound(f"GitHub: not found while {what}")
    hint = "check APP_ID and the private key" if code == 401 else None
    return ForgeError(f"GitHub answered {code} while {what}", hint=hint)
