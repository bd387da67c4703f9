"""Login throttling: failed attempts counted in Redis per account and per client address,
so every web process sees the same counters."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

WINDOW_S = 15 * 60
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 30
PREFIX = "auditbot:login-failures"


def _keys(email: str, address: str) -> tuple[str, str]:
    # Hashed: the keys would otherwise list e-mail addresses to whoever reads Redis.
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"{PREFIX}:account:{account}", f"{PREFIX}:address:{address}"


async def check(redis: Redis, email: str, address: str) -> int | None:
    """Seconds to wait while this account or this address is throttled, else None."""
    account_key, address_key = _keys(email, address)
    limits = ((account_key, MAX_FAILURES_PER_ACCOUNT), (address_key, MAX_FAILURES_PER_ADDRESS))
    for key, limit in limits:
        failures = await redis.get(key)
        if failures is not None and int(failures) >= limit:
            ttl = await redis.ttl(key)
            return max(1, int(ttl))
    return None


async def record_failure(redis: Redis, email: str, address: str) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        for key in _keys(email, address):
            pipe.incr(key)
            pipe.expire(key, WINDOW_S, nx=True)
        await pipe.execute()


async def record_success(redis: Redis, email: str, address: str) -> None:
    account_key, _ = _keys(email, address)
    await redis.delete(account_key)


RESET_MAILS_PER_HOUR = 3


async def allow_reset_mail(redis: Redis, email: str) -> bool:
    """At most a few reset mails per address an hour, so the form cannot flood a mailbox.
    Over the limit the request still answers the same; only the mail is not sent."""
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    key = f"auditbot:reset-mails:{account}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, 3600, nx=True)
        sent, _ = await pipe.execute()
    return int(sent) <= RESET_MAILS_PER_HOUR
