"""The page `auditbot setup` serves (Probot's setup page is the model): a button that posts
the manifest to GitHub, and the address GitHub sends the browser back to with the code.

The page holds no script: the form posts straight to GitHub's registration page, so the
Content-Security-Policy allows forms to go there (and back here, where the redirect lands).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.errors import AuditbotError, BadInput, NotFound
from bot.setup.flow import Finished, ManifestFlow
from bot.setup.manifest import CALLBACK_PATH

START_PATH = "/setup"


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(loader=PackageLoader("bot.setup", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def setup_app(flow: ManifestFlow, on_done: Callable[[Finished], None] | None = None) -> Starlette:
    """The ASGI app; ``on_done`` runs once the success page has been sent."""
    plan = flow.plan
    back = plan.manifest.get("redirect_url", "")
    headers = {
        "Content-Security-Policy": (
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
            f"form-action {_origin(plan.web_url)} {_origin(back)}"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }

    def render(status: int = 200, background: BackgroundTask | None = None,
               **context: Any) -> HTMLResponse:
        html = _templates().get_template("setup.html.j2").render(start=START_PATH, **context)
        return HTMLResponse(html, status_code=status, headers=headers, background=background)

    async def start(request: Request) -> Response:
        if flow.finished is not None:
            return done_page(flow.finished)
        return render(
            kind="start", manifest=plan.manifest, web_url=plan.web_url, org=plan.org,
            action=flow.form_action, manifest_json=json.dumps(plan.manifest))

    def done_page(finished: Finished, background: BackgroundTask | None = None) -> HTMLResponse:
        return render(kind="done", app=finished.registration, env_path=plan.env_path,
                      key_path=finished.key_path, written=finished.written,
                      removed=finished.removed, background=background)

    async def callback(request: Request) -> Response:
        query = request.query_params
        if flow.finished is not None and flow.state_matches(query.get("state")):
            return done_page(flow.finished)  # the same redirect, reloaded
        try:
            finished = await flow.complete(query.get("code"), query.get("state"))
        except (BadInput, NotFound) as exc:  # a wrong state, or a used or expired code
            return render(400, kind="problem", message=str(exc))
        except AuditbotError as exc:  # GitHub refused or could not be reached
            return render(502, kind="problem", message=str(exc))
        task = BackgroundTask(on_done, finished) if on_done is not None else None
        return done_page(finished, task)

    async def root(request: Request) -> Response:
        return RedirectResponse(START_PATH, status_code=303)

    return Starlette(routes=[
        Route("/", root, methods=["GET"]),
        Route(START_PATH, start, methods=["GET"]),
        Route(CALLBACK_PATH, callback, methods=["GET"]),
    ])
