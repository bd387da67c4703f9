"""Creating accounts outside the API: `auditbot createuser` makes the first admin."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.config import Settings
from bot.errors import BadInput
from bot.store.db import create_engine, session_factory
from bot.store.models import User
from bot.web.auth import hash_password_async

MIN_PASSWORD = 10


async def create_user(
    settings: Settings, email: str, password: str, *, admin: bool, display_name: str | None = None
) -> int:
    """Create an account and return its id; `BadInput` if the address is taken or the
    password too short. The database must be migrated."""
    email = email.strip().lower()
    if "@" not in email:
        raise BadInput(f"{email!r} is not an e-mail address")
    if len(password) < MIN_PASSWORD:
        raise BadInput(f"the password needs at least {MIN_PASSWORD} characters")
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            taken = await session.scalar(select(User.id).where(func.lower(User.email) == email))
            if taken is not None:
                raise BadInput(f"an account for {email} exists")
            user = User(email=email, display_name=display_name, is_admin=admin,
                        password_hash=await hash_password_async(password))
            session.add(user)
            await session.commit()
            return user.id
    finally:
        await engine.dispose()
