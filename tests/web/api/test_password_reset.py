"""Password reset through a real SMTP server on 127.0.0.1 (aiosmtpd): the test reads the
mail, follows it, and logs in with the new password; tokens work once and expire."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from bot.store.models import OneTimeToken
from tests.support.servers import free_port
from tests.web.api.conftest import PASSWORD, Api
from tests.web.browser import Browser


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def wait(self, count: int, timeout: float = 10) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) >= count, f"expected {count} mails, got {len(self.messages)}"
        return self.messages


@pytest.fixture
def smtp() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}?from=auditbot@example.com", inbox
    finally:
        controller.stop()


def _token(mail: Message) -> str:
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes)
    match = re.search(r"/reset-password\?token=([\w-]+)", body.decode())
    assert match, body
    return match.group(1)


def test_reset_by_mail_then_login_with_the_new_password(
    api_factory: Callable[..., Any], smtp: tuple[str, Inbox]
) -> None:
    url, inbox = smtp
    with api_factory(SMTP_URL=url, PUBLIC_URL="https://audit.example.com") as api:
        user = api.user("carol@example.com")
        old = api.login(user.email)
        asked = httpx.post(f"{api.base}/api/v1/auth/password-reset",
                           json={"email": "Carol@example.com"})
        assert asked.status_code == 202
        mail = inbox.wait(1)[0]
        assert mail["To"] == "carol@example.com"
        assert mail["From"] == "auditbot@example.com"
        token = _token(mail)
        body = mail.get_payload(decode=True)
        assert isinstance(body, bytes)
        assert "https://audit.example.com/reset-password?token=" in body.decode()
        done = httpx.post(f"{api.base}/api/v1/auth/password-reset/confirm",
                          json={"token": token, "password": "a brand new passphrase"})
        assert done.status_code == 204
        # Used once: the same token is refused the second time.
        again = httpx.post(f"{api.base}/api/v1/auth/password-reset/confirm",
                           json={"token": token, "password": "yet another passphrase"})
        assert again.status_code == 400
        assert httpx.post(f"{api.base}/api/v1/auth/login",
                          json={"email": user.email, "password": PASSWORD}).status_code == 401
        assert api.login(user.email, "a brand new passphrase")["access_token"]
        # Sessions from before the reset are over.
        assert httpx.post(f"{api.base}/api/v1/auth/refresh",
                          json={"refresh_token": old["refresh_token"]}).status_code == 401


def test_reset_answers_the_same_for_unknown_addresses(
    api_factory: Callable[..., Any], smtp: tuple[str, Inbox]
) -> None:
    url, inbox = smtp
    with api_factory(SMTP_URL=url) as api:
        api.user("dave@example.com")
        known = httpx.post(f"{api.base}/api/v1/auth/password-reset",
                           json={"email": "dave@example.com"})
        unknown = httpx.post(f"{api.base}/api/v1/auth/password-reset",
                             json={"email": "nobody@example.com"})
        assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
        inbox.wait(1)
        time.sleep(0.3)
        assert [m["To"] for m in inbox.messages] == ["dave@example.com"]


def test_reset_page_completes_a_reset(api_factory: Callable[..., Any],
                                      smtp: tuple[str, Inbox]) -> None:
    url, inbox = smtp
    with api_factory(SMTP_URL=url) as api:
        user = api.user()
        httpx.post(f"{api.base}/api/v1/auth/password-reset", json={"email": user.email})
        token = _token(inbox.wait(1)[0])
        earlier = Browser(api)  # a session from before the reset
        earlier.login(user.email)
        assert earlier.get("/").status_code == 200
        browser = Browser(api)
        page = browser.get(f"/reset-password?token={token}")
        assert page.status_code == 200
        assert f'value="{token}"' in page.text
        done = browser.submit("/reset-password",
                              {"token": token, "password": "changed via the page"})
        assert done.status_code == 200
        assert 'id="done"' in done.text
        assert api.login(user.email, "changed via the page")["access_token"]
        assert earlier.get("/").status_code == 303  # the reset ended the old session


def test_expired_reset_token_is_refused(api_factory: Callable[..., Any],
                                        smtp: tuple[str, Inbox]) -> None:
    url, inbox = smtp
    with api_factory(SMTP_URL=url) as api:
        user = api.user()
        httpx.post(f"{api.base}/api/v1/auth/password-reset", json={"email": user.email})
        token = _token(inbox.wait(1)[0])
        past = datetime.now(UTC) - timedelta(minutes=1)

        async def expire(session: Any) -> None:
            await session.execute(update(OneTimeToken).values(expires_at=past))

        api.run(expire)
        answer = httpx.post(f"{api.base}/api/v1/auth/password-reset/confirm",
                            json={"token": token, "password": "a brand new passphrase"})
        assert answer.status_code == 400
        assert api.login(user.email)["access_token"]  # the old password still works


def test_short_password_is_refused_with_a_problem(api: Api) -> None:
    answer = httpx.post(f"{api.base}/api/v1/auth/password-reset/confirm",
                        json={"token": "x", "password": "short"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["loc"] == ["password"]


def test_reset_mails_are_limited_per_address(api_factory: Callable[..., Any],
                                             smtp: tuple[str, Inbox]) -> None:
    url, inbox = smtp
    with api_factory(SMTP_URL=url) as api:
        user = api.user()
        answers = [httpx.post(f"{api.base}/api/v1/auth/password-reset",
                              json={"email": user.email}) for _ in range(5)]
        assert {a.status_code for a in answers} == {202}
        inbox.wait(3)
        time.sleep(0.5)
        assert len(inbox.messages) == 3


@pytest.mark.postgres
def test_reset_answers_before_the_account_is_looked_up(
    api_factory: Callable[..., Any], smtp: tuple[str, Inbox], postgres_url: str
) -> None:
    """The answer must not wait on the lookup, or its timing would tell which addresses
    have accounts. With the users table locked by another connection, the lookup blocks:
    the 202 still comes at once, and the mail follows when the lock goes."""
    url, inbox = smtp
    with api_factory(SMTP_URL=url, DATABASE_URL=postgres_url) as api:
        user = api.user("erin@example.com")
        dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1)

        async def ask_while_locked() -> int:
            locker = await asyncpg.connect(dsn)
            try:
                async with locker.transaction():
                    await locker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
                    async with httpx.AsyncClient(timeout=5) as client:
                        answer = await client.post(f"{api.base}/api/v1/auth/password-reset",
                                                   json={"email": user.email})
                    assert inbox.messages == []  # the lookup is still waiting
                    return answer.status_code
            finally:
                await locker.close()

        assert asyncio.run(ask_while_locked()) == 202
        assert [m["To"] for m in inbox.wait(1)] == ["erin@example.com"]
