"""The production app: the factory with every part's routes mounted."""

from __future__ import annotations

import gc

from starlette.routing import BaseRoute

from bot.config import Settings, load_settings
from bot.logs import register_secrets, setup_logging
from bot.web.api import api_routes
from bot.web.app import FastLane, create_app
from bot.web.metrics import forget_at_exit
from bot.web.pages import page_routes
from bot.web.webhooks import webhook_fast_lane, webhook_routes
from bot.web.ws import ws_routes


def build_app(settings: Settings) -> FastLane:
    """The Starlette app (``.app``) behind the webhooks' fast lane."""
    routes: list[BaseRoute] = [*webhook_routes(), *api_routes(), *page_routes(), *ws_routes()]
    return FastLane(create_app(settings, routes), webhook_fast_lane())


def serving_app() -> FastLane:
    """uvicorn's factory in each web process of `auditbot serve` (``--workers N`` starts
    N of them, fresh interpreters that inherit nothing but the environment): the settings
    are read here from the environment `serve` checked before it started them (with
    ``--dev``, it put the JWT_SECRET it generated there), so every process signs and
    verifies with the same ones."""
    settings = load_settings()
    register_secrets(settings.secret_values())
    setup_logging(settings.log_level, settings.log_format)
    forget_at_exit()  # with --workers N, serve's PROMETHEUS_MULTIPROC_DIR
    app = build_app(settings)
    # What exists now (modules, the app, its routes) lives as long as the process: frozen
    # out of the cyclic collector, the full collections that deliveries set off no longer
    # walk it (p99 in bench/bench_webhooks.py: 42 ms -> 11 ms). A request's objects die
    # young, by reference count; collecting every 700 allocations (the default) kept
    # rescanning the ones of requests still in flight: every 50,000 is ~5 % more req/s
    # for a few MB.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    return app
