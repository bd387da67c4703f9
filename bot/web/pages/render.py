"""Rendering a page: the jinja2 environment, the security headers every page carries, and
what the layout needs (who is logged in, the CSRF token, the navigation).

The Content-Security-Policy allows no inline script or style at all: the stylesheet and
the one script (live progress) are files under `/static/`, so text from a repository or a
model can never run, even if a template forgot to escape it (none does: autoescape is on).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.findings import Severity
from bot.web.pages import session as web_session
from bot.web.pages.viewer import Viewer

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on the
    # site's own form posts, and the forms' origin check needs the real one. Other sites
    # (the forge a finding links to) still get no referrer, so no report token leaks.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATE_LABELS = {"open": "Open", "confirmed": "Confirmed", "false_positive": "False positive",
                "wont_fix": "Won't fix", "fixed": "Fixed"}


@lru_cache(maxsize=1)
def templates() -> Environment:
    env = Environment(loader=PackageLoader("bot.web", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["severities"] = [s.value for s in Severity]
    env.globals["state_labels"] = STATE_LABELS
    env.filters["query"] = href
    return env


def href(params: dict[str, Any], **changes: Any) -> str:
    """``?a=1&b=2`` from the current filters with ``changes`` applied (None drops a key)."""
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged) if merged else "?"


def page(request: Request, name: str, viewer: Viewer | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    cookies: dict[str, str] = {}
    csrf = viewer.csrf if viewer is not None else web_session.anonymous_csrf(request, cookies)
    html = templates().get_template(name).render(
        user=viewer.user if viewer is not None else None, csrf=csrf,
        path=request.url.path, **context)
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    for value in cookies.values():
        web_session.set_anonymous_csrf(response, value, web_session.secure_cookies(request))
    return response
