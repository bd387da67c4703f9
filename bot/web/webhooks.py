"""`POST /webhooks/github` and `POST /webhooks/gitlab`: verify, dedupe, enqueue, answer.

GitHub drops a delivery not answered with a 2xx within 10 s and never redelivers by itself;
GitLab disables a hook after repeated failures. So nothing slow happens here: the signature
is checked on the raw bytes, the body validated once, straight from JSON, into its event's
model, the handlers in ``bot/events`` turn that into jobs, and one Redis script records the
delivery with its jobs. Answers (docs/architecture.md): 202 enqueued, 200 valid but nothing to do or
already seen, 401 bad signature or token, 400 not the JSON the event promises, 413 over the
size limit, 503 Redis cannot take the job.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
from prometheus_client import Counter
from redis.exceptions import RedisError
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from bot.config import Settings
from bot.errors import BadInput
from bot.events import github as github_events
from bot.events import gitlab as gitlab_events
from bot.events.enqueue import DeliveryQueue
from bot.events.github_models import GitHubEvent
from bot.events.gitlab_models import GitLabEvent
from bot.events.registry import Delivery, check_json_object
from bot.jobs.contracts import APP_SLUG_KEY, Forge, JobRequest
from bot.logs import bind
from bot.web.webhook_http import (
    Answer,
    BodyTooLarge,
    Disconnected,
    answer,
    body_digest,
    declared_too_large,
    github_signature_ok,
    header_map,
    is_json,
    problem,
    read_body,
    text,
    token_ok,
)

log = logging.getLogger(__name__)


class ForgeEvents(NamedTuple):
    """One forge's handlers: its body parser (see ``Registry.parse``) and its router."""

    parse: Callable[[str, bytes], GitHubEvent | GitLabEvent | None]
    jobs_for: Callable[[Delivery, Any], list[JobRequest]]


GITHUB_EVENTS = ForgeEvents(github_events.parse, github_events.jobs_for)
GITLAB_EVENTS = ForgeEvents(gitlab_events.parse, gitlab_events.jobs_for)

DELIVERIES = Counter(
    "auditbot_webhook_deliveries_total",
    "Webhook deliveries answered, by forge, event and outcome",
    ["forge", "event", "outcome"],
)

RETRY_AFTER_S = "10"
MAX_DELIVERY_ID = 128
SLUG_REFRESH_S = 300.0
# Before the sender is authenticated its event header is not trusted as a metric label.
UNVERIFIED = "-"


@dataclass
class WebhookState:
    """What the endpoints need, built once from settings and the lifespan's Redis client."""

    github_secrets: tuple[bytes, ...]
    gitlab_secrets: tuple[bytes, ...]
    max_bytes: int
    queue: DeliveryQueue
    redis: Any
    app_slug: str | None
    slug_fixed: bool
    slug_checked_at: float = field(default=-SLUG_REFRESH_S)

    @classmethod
    def build(cls, settings: Settings, redis: Any, queue_redis: Any) -> WebhookState:
        github = [settings.webhook_secret, settings.webhook_secret_previous]
        # The previous one counts only beside a current one (a rotation, not a second hook).
        gitlab = (
            [settings.gitlab_webhook_secret, settings.gitlab_webhook_secret_previous]
            if settings.gitlab_webhook_secret
            else []
        )
        return cls(
            github_secrets=tuple(s.get_secret_value().encode() for s in github if s),
            gitlab_secrets=tuple(s.get_secret_value().encode() for s in gitlab if s),
            max_bytes=settings.max_webhook_bytes,
            queue=DeliveryQueue(queue_redis, ttl_s=settings.delivery_ttl_days * 86_400),
            redis=redis,
            app_slug=settings.app_slug,
            slug_fixed=settings.app_slug is not None,
        )

    async def slug(self) -> str | None:
        """APP_SLUG, else the slug the worker stored from the app's record (read rarely)."""
        if self.slug_fixed or time.monotonic() - self.slug_checked_at < SLUG_REFRESH_S:
            return self.app_slug
        self.slug_checked_at = time.monotonic()
        try:
            value = await self.redis.get(APP_SLUG_KEY)
        except (RedisError, OSError):
            return self.app_slug
        if value:
            self.app_slug = value.decode() if isinstance(value, bytes) else str(value)
        return self.app_slug


def _state(app: Any) -> WebhookState:
    state: WebhookState | None = getattr(app.state, "webhooks", None)
    # Rebuilt when a new lifespan made a new Redis client (an app started twice in tests).
    if state is None or state.redis is not app.state.redis:
        state = WebhookState.build(app.state.settings, app.state.redis, app.state.queue_redis)
        app.state.webhooks = state
    return state


@functools.lru_cache(maxsize=1024)
def _count(forge: str, event: str, outcome: str) -> Any:
    """The labelled counter, looked up once per label set (labels() takes a lock); event
    names come only from verified senders, so the set stays small."""
    return DELIVERIES.labels(forge, event, outcome)


def _refuse(forge: Forge, event: str, outcome: str, status: int, detail: str) -> Answer:
    _count(forge, event, outcome).inc()
    return problem(status, detail)


Handler = Callable[[WebhookState, dict[bytes, bytes], Receive], Awaitable[Answer]]


class WebhookEndpoint:
    """A plain ASGI app for one forge's deliveries (see ``webhook_http`` for why plain)."""

    def __init__(self, handle: Handler) -> None:
        self._handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = _state(scope["app"])
        try:
            result = await self._handle(state, header_map(scope), receive)
        except Disconnected:
            return  # nobody is left to answer; nothing was queued
        await result.send(send)


async def github_webhook(
    state: WebhookState, headers: dict[bytes, bytes], receive: Receive
) -> Answer:
    if declared_too_large(headers, state.max_bytes):
        return _too_large("github", state)
    if not state.github_secrets:
        return _refuse(
            "github",
            UNVERIFIED,
            "unauthorized",
            401,
            "this server has no WEBHOOK_SECRET; set it to the GitHub App's secret",
        )
    signature = headers.get(b"x-hub-signature-256")
    if not signature:
        detail = (
            "only an X-Hub-Signature (sha1) header; auditbot verifies X-Hub-Signature-256"
            if headers.get(b"x-hub-signature")
            else "missing X-Hub-Signature-256 header"
        )
        return _refuse("github", UNVERIFIED, "unauthorized", 401, detail)
    try:
        body = await read_body(receive, state.max_bytes)
    except BodyTooLarge:
        return _too_large("github", state)
    if not github_signature_ok(body, signature, state.github_secrets):
        log.warning(
            "GitHub delivery %s refused: X-Hub-Signature-256 does not match; verify that "
            "WEBHOOK_SECRET (or WEBHOOK_SECRET_PREVIOUS) matches the GitHub App's webhook secret",
            _short(text(headers.get(b"x-github-delivery"))),
        )
        return _refuse(
            "github",
            UNVERIFIED,
            "unauthorized",
            401,
            "signature does not match; the webhook secrets must match",
        )
    event = text(headers.get(b"x-github-event"))
    if not event:
        return _refuse("github", UNVERIFIED, "bad_request", 400, "missing X-GitHub-Event header")
    delivery_id = _delivery_id(text(headers.get(b"x-github-delivery")), body)
    return await _process(
        "github",
        event,
        delivery_id,
        body,
        headers,
        state,
        GITHUB_EVENTS,
    )


async def gitlab_webhook(
    state: WebhookState, headers: dict[bytes, bytes], receive: Receive
) -> Answer:
    if declared_too_large(headers, state.max_bytes):
        return _too_large("gitlab", state)
    if not state.gitlab_secrets:
        return _refuse(
            "gitlab",
            UNVERIFIED,
            "unauthorized",
            401,
            "this server has no GITLAB_WEBHOOK_SECRET; set it to the hook's token",
        )
    token = headers.get(b"x-gitlab-token")
    if token is None or not any(token_ok(token, secret) for secret in state.gitlab_secrets):
        log.warning(
            "GitLab delivery refused: X-Gitlab-Token %s; verify that GITLAB_WEBHOOK_SECRET "
            "(or GITLAB_WEBHOOK_SECRET_PREVIOUS) matches the webhook's secret token in GitLab",
            "is missing" if token is None else "does not match",
        )
        return _refuse(
            "gitlab",
            UNVERIFIED,
            "unauthorized",
            401,
            "missing or wrong X-Gitlab-Token; the webhook secret token must match",
        )
    try:
        body = await read_body(receive, state.max_bytes)
    except BodyTooLarge:
        return _too_large("gitlab", state)
    header = text(headers.get(b"x-gitlab-event"))
    if not header:
        return _refuse("gitlab", UNVERIFIED, "bad_request", 400, "missing X-Gitlab-Event header")
    delivery_id = _delivery_id(
        text(headers.get(b"idempotency-key") or headers.get(b"x-gitlab-event-uuid")), body
    )
    kind = gitlab_events.EVENT_KINDS.get(header)
    return await _process(
        "gitlab",
        kind or header,
        delivery_id,
        body,
        headers,
        state,
        GITLAB_EVENTS,
        expected_kind=kind,
        known=kind is not None,
    )


async def _process(
    forge: Forge,
    event: str,
    delivery_id: str,
    body: bytes,
    headers: dict[bytes, bytes],
    state: WebhookState,
    events: ForgeEvents,
    *,
    expected_kind: str | None = None,
    known: bool = True,
) -> Answer:
    """The verified part: content type, the body as its event's model, the handlers, the
    one Redis round trip."""
    label = event if known else "other"
    with bind(delivery_id=delivery_id):
        if not is_json(headers):
            return _refuse(
                forge,
                label,
                "bad_request",
                400,
                "Content-Type must be application/json; set the webhook's content "
                "type to application/json",
            )
        try:
            if known:
                parsed = events.parse(event, body)
            else:
                check_json_object(body)
                parsed = None
        except BadInput as exc:
            # A body of another kind fails its model's shape first: name the real mistake.
            kind = _object_kind(body) if expected_kind is not None else None
            mismatch = kind is not None and kind != expected_kind
            detail = _kind_mismatch(kind, expected_kind) if mismatch else exc.message
            return _refuse(forge, label, "bad_request", 400, detail)
        if parsed is None:  # no handler listens to this event
            _count(forge, label, "ignored").inc()
            return answer(200, {"status": "ignored", "event": event})
        if expected_kind is not None:  # GitLab: the body must be the kind its header names
            kind = getattr(parsed, "object_kind", None)
            if kind != expected_kind:
                return _refuse(
                    forge, label, "bad_request", 400, _kind_mismatch(kind, expected_kind)
                )
        action = parsed.action
        delivery = Delivery(forge, event, action, delivery_id, await state.slug())
        try:
            jobs = events.jobs_for(delivery, parsed)
        except BadInput as exc:
            return _refuse(forge, label, "bad_request", 400, exc.message)
        if not jobs:
            _count(forge, label, "ignored").inc()
            return answer(200, {"status": "ignored", "event": event, "action": action})
        try:
            result = await state.queue.submit(forge, delivery_id, jobs)
        except (RedisError, OSError) as exc:
            log.warning(
                "%s %s not queued, Redis cannot take it: %s; the sender will retry",
                forge,
                event,
                exc,
            )
            _count(forge, label, "unavailable").inc()
            return problem(
                503, "the job queue is unavailable; retry later", retry_after=RETRY_AFTER_S
            )
        if result.duplicate:
            log.info("%s %s.%s already seen; nothing queued", forge, event, action)
            _count(forge, label, "duplicate").inc()
            return answer(200, {"status": "duplicate"})
        if result.enqueued == 0:
            log.info("%s %s.%s: its work is already queued", forge, event, action)
            _count(forge, label, "already_queued").inc()
            return answer(200, {"status": "already_queued", "jobs": [j.job_id for j in jobs]})
        log.info("%s %s.%s: %d job(s) queued", forge, event, action, result.enqueued)
        _count(forge, label, "enqueued").inc()
        return answer(202, {"status": "queued", "jobs": [j.job_id for j in jobs]})


def _too_large(forge: Forge, state: WebhookState) -> Answer:
    return _refuse(
        forge, UNVERIFIED, "too_large", 413, f"body is larger than {state.max_bytes} bytes"
    )


def _object_kind(body: bytes) -> object:
    """The body's object_kind, read again only to explain a refusal."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value.get("object_kind") if isinstance(value, dict) else None


def _kind_mismatch(kind: object, expected: str | None) -> str:
    return f"object_kind is {kind!r}, the event header promises {expected!r}"


def _delivery_id(header: str | None, body: bytes) -> str:
    if not header:
        return body_digest(body)
    if len(header) > MAX_DELIVERY_ID or not header.isprintable():
        return "sha256-" + hashlib.sha256(header.encode("latin-1")).hexdigest()
    return header


def _short(value: str | None) -> str:
    return (value or "(no delivery id)")[:64]


ENDPOINTS = {
    "/webhooks/github": WebhookEndpoint(github_webhook),
    "/webhooks/gitlab": WebhookEndpoint(gitlab_webhook),
}


def webhook_routes() -> list[BaseRoute]:
    return [Route(path, endpoint, methods=["POST"]) for path, endpoint in ENDPOINTS.items()]


def webhook_fast_lane() -> dict[str, WebhookEndpoint]:
    """The same endpoints for the ``FastLane`` (POSTs to these exact paths)."""
    return dict(ENDPOINTS)
