"""Outgoing mail through ``SMTP_URL``: ``smtp://[user:password@]host[:port][?from=addr]``,
``smtp+starttls://...`` or ``smtps://...``. smtplib is blocking, so it runs in a thread."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from bot.errors import ConfigError

log = logging.getLogger(__name__)

TIMEOUT_S = 20.0
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@dataclass(frozen=True)
class SmtpTarget:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    sender: str


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(
            "SMTP_URL",
            "expected smtp://, smtp+starttls:// or smtps:// followed by a host",
            hint="for example smtp+starttls://user:password@mail.example.com:587?from=bot@example.com",
        )
    query = parse_qs(parts.query)
    sender = query.get("from", [f"auditbot@{parts.hostname}"])[0]
    return SmtpTarget(
        scheme=scheme,
        host=parts.hostname,
        port=parts.port or DEFAULT_PORTS[scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        sender=sender,
    )


def _send(target: SmtpTarget, message: EmailMessage) -> None:
    smtp: smtplib.SMTP
    if target.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(
            target.host, target.port, timeout=TIMEOUT_S, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(target.host, target.port, timeout=TIMEOUT_S)
    with smtp:
        if target.scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
        if target.username and target.password:
            smtp.login(target.username, target.password)
        smtp.send_message(message)


async def send_mail(smtp_url: str, to: str, subject: str, body: str) -> None:
    """Send a plain-text message; raises `OSError`/`smtplib.SMTPException` on failure."""
    target = parse_smtp_url(smtp_url)
    message = EmailMessage()
    message["From"] = target.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    await asyncio.to_thread(_send, target, message)
    log.info("mail sent to %s via %s:%d", _mask(to), target.host, target.port)


def _mask(address: str) -> str:
    name, _, domain = address.partition("@")
    return f"{name[:1]}***@{domain}"
