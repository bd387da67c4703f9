"""The production app: the factory with every part's routes mounted."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from bot.config import Settings
from bot.web.api import api_routes
from bot.web.app import create_app
from bot.web.pages import page_routes
from bot.web.webhooks import webhook_fast_lane, webhook_routes
from bot.web.ws import ws_routes


def build_app(settings: Settings) -> Starlette:
    routes: list[BaseRoute] = [*webhook_routes(), *api_routes(), *page_routes(), *ws_routes()]
    return create_app(settings, routes, fast_lane=webhook_fast_lane())
