"""Every check, run side by side, in a fixed order of topics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from bot.config import Settings
from bot.doctor.github import github_lines
from bot.doctor.gitlab import gitlab_lines
from bot.doctor.model import model_lines
from bot.doctor.report import Line, fail, skip
from bot.doctor.services import database_lines, redis_lines, settings_lines


async def diagnose(settings: Settings, *, llm: bool = False) -> list[Line]:
    checks: list[tuple[str, Awaitable[list[Line]] | None]] = [
        ("database", database_lines(settings)),
        ("redis", redis_lines(settings)),
        ("github", github_lines(settings) if settings.github_enabled else None),
        ("gitlab", gitlab_lines(settings) if settings.gitlab_enabled else None),
        ("model", model_lines(settings) if llm else None),
    ]
    results = await asyncio.gather(*(_guarded(topic, check) for topic, check in checks))
    lines = settings_lines(settings)
    for found in results:
        lines.extend(found)
    return lines


async def _guarded(topic: str, check: Awaitable[list[Line]] | None) -> list[Line]:
    if check is None:
        return [skip(topic, {"github": "not configured (APP_ID)",
                             "gitlab": "not configured (GITLAB_TOKEN)",
                             "model": "not called (pass --llm for one tiny call)"}[topic])]
    try:
        return await check
    except Exception as exc:  # noqa: BLE001 -- doctor explains; it never ends in a traceback
        return [fail(topic, f"the check itself failed: {type(exc).__name__}: {exc}")]
