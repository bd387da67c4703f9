"""The starlette application factory. Clients are created in the lifespan and handed to
routes through ``app.state``; nothing here reads the environment."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from arq.connections import ArqRedis
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.config import Settings
from bot.jobs.redis_checks import warn_if_redis_may_lose_jobs
from bot.store.db import create_engine, session_factory
from bot.web.errors import EXCEPTION_HANDLERS
from bot.web.health import healthz, readyz
from bot.web.metrics import MeasuredEndpoint, MetricsMiddleware, metrics

log = logging.getLogger(__name__)


class FastLane:
    """A plain ASGI wrapper around the Starlette app: POSTs to the paths in ``lanes`` go
    straight to their endpoint, skipping the middleware stack and the router, measured and
    guarded by ``MeasuredEndpoint`` (what MetricsMiddleware and ServerErrorMiddleware do for
    the rest); everything else (other methods and paths, WebSockets, the lifespan) goes to
    ``app``. Webhook deliveries take it: answered in a fraction of a millisecond, at that
    size five layers of middleware were about 15 % of the web process's time per delivery
    (bench/bench_webhooks.py). The same endpoints stay mounted as routes, so a request the
    lane does not match (another method, a root path) still gets the router's answer.
    """

    def __init__(self, app: Starlette, lanes: Mapping[str, ASGIApp]) -> None:
        self.app = app
        self._lanes = {path: MeasuredEndpoint(path, endpoint) for path, endpoint in lanes.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self._lanes.get(scope["path"])
            if endpoint is not None:
                # As Starlette does on entry: an endpoint finds the app's state (the
                # clients the lifespan made) through ``request.app``.
                scope["app"] = self.app
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)


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
        # The webhook queue's own client: no per-reply socket timeout (an asyncio timer per
        # reply was ~3 % of a delivery); DeliveryQueue bounds each whole batch instead.
        app.state.queue_redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2)
        await warn_if_redis_may_lose_jobs(app.state.redis)
        try:
            yield
        finally:
            await app.state.queue_redis.aclose()
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
