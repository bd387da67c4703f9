"""The production app: the factory with every part's routes mounted."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from bot.config import Settings
from bot.web.app import create_app


def build_app(settings: Settings) -> Starlette:
    routes: list[BaseRoute] = []
    # Later parts add their routes here: webhooks, API, report pages, WebSocket.
    return create_app(settings, routes)
