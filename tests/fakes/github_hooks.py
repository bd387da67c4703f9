"""GitHub's side of the App's webhook for the fake GitHub: it signs and POSTs deliveries to the
App's URL, records every attempt in the fake's delivery log (``GET /app/hook/deliveries``)
with the status the App answered, and re-sends a recorded delivery when asked
(``POST /app/hook/deliveries/{id}/attempts``), with the same body and ``X-GitHub-Delivery``.

As GitHub does, it never re-sends a failed delivery on its own: "GitHub does not
automatically redeliver failed deliveries" (docs.github.com/en/webhooks/using-webhooks/
handling-failed-webhook-deliveries). A delivery not answered within 10 s is recorded as
failed with status code 0 (docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/
troubleshooting-webhooks#timed-out).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.fakes.fake_github import FakeGitHub

TIMEOUT_S = 10.0
HOOK_ID = 424242


@dataclass
class Attempt:
    guid: str
    event: str
    status_code: int  # 0: no answer
    redelivery: bool
    delivery_id: int
    at: float  # when it was sent (time.time())
    seconds: float  # how long the App took to answer


@dataclass
class HookSender:
    fake: FakeGitHub
    url: str  # the App's webhook URL
    secret: str
    timeout_s: float = TIMEOUT_S
    attempts: list[Attempt] = field(default_factory=list)
    _bodies: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # guid -> event, body
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, event: str, payload: dict[str, Any] | bytes, guid: str | None = None,
             *, redelivery: bool = False) -> int:
        """One delivery attempt from the caller's thread; the App's status code (0: none)."""
        guid, body, headers = self._prepare(event, payload, guid)
        started = time.time()
        try:
            status = httpx.post(self.url, content=body, headers=headers,
                                timeout=self.timeout_s).status_code
        except httpx.HTTPError:
            status = 0
        return self._record(guid, event, body, status, redelivery, started)

    async def resend(self, guid: str) -> None:
        """A redelivery GitHub was asked for: same body, same guid."""
        event, body = self._bodies[guid]
        _, _, headers = self._prepare(event, body, guid)
        started = time.time()
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                status = (await client.post(self.url, content=body, headers=headers)).status_code
        except httpx.HTTPError:
            status = 0
        self._record(guid, event, body, status, True, started)

    def knows(self, guid: str) -> bool:
        return guid in self._bodies

    def body_of(self, guid: str) -> bytes:
        return self._bodies[guid][1]

    def _prepare(self, event: str, payload: dict[str, Any] | bytes,
                 guid: str | None) -> tuple[str, bytes, dict[str, str]]:
        guid = guid or str(uuid.uuid4())
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        sha1 = hmac.new(self.secret.encode(), body, hashlib.sha1).hexdigest()
        # The headers GitHub sends with every delivery (docs.github.com/en/webhooks/
        # webhook-events-and-payloads#delivery-headers).
        headers = {
            "content-type": "application/json", "user-agent": "GitHub-Hookshot/044aadd",
            "x-github-event": event, "x-github-delivery": guid,
            "x-github-hook-id": str(HOOK_ID),
            "x-github-hook-installation-target-type": "integration",
            "x-github-hook-installation-target-id": str(self.fake.app_id),
            "x-hub-signature": f"sha1={sha1}", "x-hub-signature-256": f"sha256={digest}",
        }
        return guid, body, headers

    def _record(self, guid: str, event: str, body: bytes, status: int, redelivery: bool,
                started: float) -> int:
        try:
            action = json.loads(body).get("action")
        except (ValueError, AttributeError):
            action = None
        with self._lock:
            self._bodies.setdefault(guid, (event, body))
            delivery_id = self.fake.add_delivery(guid=guid, status_code=status, event=event,
                                                 action=action, redelivery=redelivery)
            self.attempts.append(Attempt(guid, event, status, redelivery, delivery_id, started,
                                         time.time() - started))
        return status
