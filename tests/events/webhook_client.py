"""Signed GitHub and GitLab deliveries for the web tests, and what Redis holds afterwards."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import redis as sync_redis

from bot.config import Settings
from bot.web.app import FastLane
from bot.web.main import build_app

SECRET = "it's-a-secret-to-everybody"
PREVIOUS_SECRET = "the-secret-before-the-rotation"
GITLAB_SECRET = "gitlab-hook-token-0123456789"
GITLAB_PREVIOUS_SECRET = "gitlab-hook-token-before-the-rotation"
APP_SLUG = "auditbot"

WEBHOOK_ENV = {
    "WEBHOOK_SECRET": SECRET,
    "WEBHOOK_SECRET_PREVIOUS": PREVIOUS_SECRET,
    "GITLAB_WEBHOOK_SECRET": GITLAB_SECRET,
    "GITLAB_WEBHOOK_SECRET_PREVIOUS": GITLAB_PREVIOUS_SECRET,
    "APP_SLUG": APP_SLUG,
}


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def github_headers(
    event: str, body: bytes, *, delivery: str | None = None, secret: str = SECRET
) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
    }


def gitlab_headers(
    event: str, *, delivery: str | None = None, token: str = GITLAB_SECRET
) -> dict[str, str]:
    return {
        "X-Gitlab-Event": event,
        "X-Gitlab-Token": token,
        "X-Gitlab-Event-UUID": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
        "User-Agent": "GitLab/18.3.0-pre",
    }


async def post_github(
    client: httpx.AsyncClient,
    event: str,
    payload: Any,
    *,
    delivery: str | None = None,
    secret: str = SECRET,
) -> httpx.Response:
    body = encode(payload)
    headers = github_headers(event, body, delivery=delivery, secret=secret)
    return await client.post("/webhooks/github", content=body, headers=headers)


async def post_gitlab(
    client: httpx.AsyncClient,
    event: str,
    payload: Any,
    *,
    delivery: str | None = None,
    token: str = GITLAB_SECRET,
) -> httpx.Response:
    body = encode(payload)
    headers = gitlab_headers(event, delivery=delivery, token=token)
    return await client.post("/webhooks/gitlab", content=body, headers=headers)


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[FastLane, httpx.AsyncClient]]:
    """The production app with its lifespan, called in-process through httpx."""
    app = build_app(settings)
    async with app.app.router.lifespan_context(app.app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


class QueueView:
    """What a test asserts about Redis: the arq queue, job keys, recorded deliveries."""

    def __init__(self, url: str) -> None:
        self.client = sync_redis.Redis.from_url(url)

    def job_ids(self) -> list[str]:
        return sorted(member.decode() for member in self.client.zrange("arq:queue", 0, -1))

    def job_keys(self) -> list[str]:
        return sorted(key.decode() for key in self.client.scan_iter("arq:job:*"))

    def deliveries(self) -> list[str]:
        return sorted(key.decode() for key in self.client.scan_iter("auditbot:delivery:*"))

    def nothing_queued(self) -> bool:
        return not self.job_ids() and not self.job_keys() and not self.deliveries()

    def close(self) -> None:
        self.client.close()


SettingsFactory = Callable[..., Settings]
