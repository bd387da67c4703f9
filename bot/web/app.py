"""The starlette application factory. Clients are created in the lifespan and handed to
routes through ``app.state``; nothing here reads the environment."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from arq.connections import ArqRedis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from bot.config import Settings
from bot.events.redis_checks import warn_if_redis_may_lose_jobs
from bot.store.db import create_engine, session_factory
from bot.web.errors import EXCEPTION_HANDLERS
from bot.web.health import healthz, readyz
from bot.web.metrics import MetricsMiddleware, metrics

log = logging.getLogger(__name__)


def create_app(settings: Settings, extra_routes: list[BaseRoute] | None = None) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.engine = create_engine(settings.database_url)
        app.state.sessions = session_factory(app.state.engine)
        # Short timeouts: with Redis down the web process answers 503 at once rather than hang.
        app.state.redis = ArqRedis.from_url(
            settings.redis_url, socket_connect_timeout=2, socket_timeout=5
        )
        await warn_if_redis_may_lose_jobs(app.state.redis)
        try:
            yield
        finally:
            await app.state.redis.aclose()
            await app.state.engine.dispose()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *(extra_routes or []),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(MetricsMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    )
