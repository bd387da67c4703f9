"""GitHub's side of the App manifest flow, on 127.0.0.1: the registration page of the web
host and the code exchange of the API host.

docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest:

1. a form POSTs ``manifest`` (JSON text) to ``/settings/apps/new`` (a personal account) or
   ``/organizations/ORG/settings/apps/new``, with an optional ``state`` in the query;
2. GitHub shows the app, the person confirms, and GitHub redirects the browser to the
   manifest's ``redirect_url`` with ``code`` and the same ``state``;
3. ``POST /app-manifests/{code}/conversions`` on the API host (``/api/v3`` on GitHub
   Enterprise Server) returns the app's id, private key and webhook secret. The three steps
   must happen within one hour; a code works once.

The fake skips the confirmation click (step 2 redirects at once) and refuses a manifest the
way GitHub does: the page "Invalid GitHub App configuration" with one "Error ..." line per
problem. Both layouts are served from one server: the API under ``/api/v3`` (GitHub
Enterprise Server) and at the root (github.com, whose API host is another name). The API
also answers ``GET /app`` for a registered app, with its App JWT, so a test can show that the
settings the flow produced work.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from tests.fakes.fake_github import error, op

SPEC_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "github_openapi"
# Permission names and their levels, from GitHub's OpenAPI description (app-permissions).
PERMISSION_LEVELS: dict[str, list[str]] = {
    name: prop["enum"]
    for name, prop in json.loads((SPEC_DIR / "schema__app-permissions.json").read_text())[
        "schema"]["properties"].items()
}
# "All GitHub Apps receive this event by default. You cannot manually subscribe to this
# event" (installation, installation_repositories); installation_target,
# github_app_authorization and meta are delivered to an App on its own too
# (docs.github.com/en/webhooks/webhook-events-and-payloads).
AUTOMATIC_EVENTS = ("installation", "installation_repositories", "installation_target",
                    "github_app_authorization", "meta")
# "To subscribe to this event, a GitHub App must have at least read-level access for the
# ... permission" (the same page), for the events an auditing App could want.
EVENT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "check_run": ("checks",),
    "check_suite": ("checks",),
    "code_scanning_alert": ("security_events",),
    "commit_comment": ("contents",),
    "create": ("contents",),
    "delete": ("contents",),
    "deployment": ("deployments",),
    "deployment_status": ("deployments",),
    "discussion": ("discussions",),
    "discussion_comment": ("discussions",),
    "fork": ("contents",),
    "gollum": ("contents",),
    "issue_comment": ("issues",),
    "issues": ("issues",),
    "label": ("metadata",),
    "member": ("members",),
    "merge_group": ("merge_queues",),
    "milestone": ("issues", "pull_requests"),
    "public": ("metadata",),
    "pull_request": ("pull_requests",),
    "pull_request_review": ("pull_requests",),
    "pull_request_review_comment": ("pull_requests",),
    "pull_request_review_thread": ("pull_requests",),
    "push": ("contents",),
    "release": ("contents",),
    "repository": ("metadata",),
    "secret_scanning_alert": ("secret_scanning_alerts",),
    "status": ("statuses",),
    "workflow_job": ("actions",),
    "workflow_run": ("actions",),
}
# A GitHub App's name: at most 34 characters (GitHub's registration form).
NAME_MAX = 34
CODE_TTL_S = 3600


def to_sentence(items: list[str]) -> str:
    """GitHub's (Rails') list wording: "a", "a and b", "a, b, and c"."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def manifest_problems(manifest: Any) -> list[str]:
    """What GitHub says of a manifest it refuses, one line per problem; [] when it takes it."""
    if not isinstance(manifest, dict):
        return ["The configuration does not appear to be a valid GitHub App manifest."]
    problems = []
    name = manifest.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > NAME_MAX):
        problems.append(f"Name is too long (maximum is {NAME_MAX} characters)")
    if not _is_url(manifest.get("url")):
        problems.append("Url must be a valid URL")  # the homepage is required
    hook = manifest.get("hook_attributes")
    if hook is not None and (not isinstance(hook, dict) or not _is_url(hook.get("url"))):
        problems.append("Hook url must be a valid URL")
    for key in ("redirect_url", "setup_url"):
        if key in manifest and not _is_url(manifest[key]):
            problems.append(f"{key.replace('_', ' ').capitalize()} must be a valid URL")
    permissions = manifest.get("default_permissions") or {}
    if not isinstance(permissions, dict):
        problems.append("Default permissions must be a mapping of permission to access")
        permissions = {}
    for permission, level in permissions.items():
        allowed = PERMISSION_LEVELS.get(permission)
        if allowed is None:
            problems.append(f"Default permission {permission} does not exist")
        elif level not in allowed:
            problems.append(f"Default permission {permission} must be one of "
                            f"{', '.join(allowed)}, not {level!r}")
    events = manifest.get("default_events") or []
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        return [*problems, "Default events must be a list of event names"]
    automatic = [e for e in events if e in AUTOMATIC_EVENTS]
    if automatic:
        problems.append(f"Default events unsupported: {to_sentence(automatic)}")
    uncovered = [
        e for e in events
        if not any(p in permissions and p in PERMISSION_LEVELS
                   for p in EVENT_PERMISSIONS.get(e, ()))
    ]
    if uncovered:
        problems.append(f"Default events are not supported by permissions: "
                        f"{to_sentence(uncovered)}")
    if events and hook is None:
        problems.append("Hook url can't be blank when events are subscribed")
    return problems


@dataclass
class Registered:
    """An app made by the flow: what the code exchange hands over, and its key for tests."""

    id: int
    slug: str
    name: str
    owner: str
    manifest: dict[str, Any]
    pem: str
    public_key_pem: str
    webhook_secret: str
    code: str
    code_expires: float
    converted: bool = False


class FakeGitHubManifestFlow:
    """``app`` serves both hosts; ``web_url`` is set by the test to where it is served."""

    def __init__(self, *, web_url: str = "http://github.invalid") -> None:
        self.web_url = web_url
        self.apps: list[Registered] = []
        self.refused: list[list[str]] = []  # the problems of each refused registration
        self.requests: list[tuple[str, str]] = []
        self._ids = itertools.count(880_001)
        api = [Route("/app-manifests/{code}/conversions", self.convert, methods=["POST"]),
               Route("/app", self.get_app, methods=["GET"])]
        self.app = Starlette(routes=[
            Route("/settings/apps/new", self.register, methods=["POST"]),
            Route("/organizations/{org}/settings/apps/new", self.register, methods=["POST"]),
            Mount("/api/v3", routes=api),
            *api,
        ])

    async def register(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        form = await request.form()
        raw = form.get("manifest")
        try:
            manifest = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            manifest = None
        problems = manifest_problems(manifest)
        if problems:
            self.refused.append(problems)
            lines = "".join(f"<li>Error {html.escape(p)}</li>" for p in problems)
            return HTMLResponse(
                "<h1>Invalid GitHub App configuration</h1>"
                "<p>The configuration does not appear to be a valid GitHub App manifest.</p>"
                f"<ul>{lines}</ul>", status_code=422)
        assert isinstance(manifest, dict)
        owner = request.path_params.get("org", "octocat")
        name = manifest.get("name") or f"{owner}-app"
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        registered = Registered(
            id=next(self._ids), slug=re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
            name=name, owner=owner, manifest=manifest,
            pem=key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()).decode(),
            public_key_pem=key.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
            webhook_secret=secrets.token_hex(20), code=secrets.token_hex(10),
            code_expires=time.time() + CODE_TTL_S)
        self.apps.append(registered)
        redirect = manifest.get("redirect_url")
        if not redirect:  # no way back: GitHub shows the new app's settings page
            return HTMLResponse(f"<h1>{html.escape(name)}</h1><p>Your app was created.</p>")
        query = {"code": registered.code}
        if "state" in request.query_params:
            query["state"] = request.query_params["state"]
        sep = "&" if "?" in redirect else "?"
        return RedirectResponse(f"{redirect}{sep}{urlencode(query)}", status_code=302)

    async def convert(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        code = request.path_params["code"]
        found = [a for a in self.apps if a.code == code]
        # An unknown, used or expired code is GitHub's JSON 404.
        if not found or found[0].converted or found[0].code_expires < time.time():
            return error(404, "Not Found")
        registered = found[0]
        registered.converted = True
        payload = op("apps__create-from-manifest").example("201")
        manifest = registered.manifest
        payload.update({
            "id": registered.id, "slug": registered.slug, "name": registered.name,
            "description": manifest.get("description"),
            "external_url": manifest["url"],
            "html_url": f"{self.web_url}/apps/{registered.slug}",
            "permissions": {"metadata": "read", **manifest.get("default_permissions", {})},
            "events": list(manifest.get("default_events", [])),
            "pem": registered.pem, "webhook_secret": registered.webhook_secret,
            "client_id": f"Iv1.{secrets.token_hex(8)}", "client_secret": secrets.token_hex(20),
        })
        payload["owner"]["login"] = registered.owner
        op("apps__create-from-manifest").check_response(201, payload)
        return JSONResponse(payload, status_code=201)

    async def get_app(self, request: Request) -> Response:
        """The authenticated App: RS256 JWT whose ``iss`` is a registered app's id, signed
        with that app's key (docs.github.com/en/rest/apps/apps#get-the-authenticated-app)."""
        self.requests.append((request.method, request.url.path))
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            issuer = str(jwt.decode(token, options={"verify_signature": False})["iss"])
            registered = next(a for a in self.apps if str(a.id) == issuer and a.converted)
            jwt.decode(token, registered.public_key_pem, algorithms=["RS256"],
                       options={"require": ["iat", "exp", "iss"]})
        except (jwt.PyJWTError, KeyError, StopIteration) as exc:
            return error(401, f"A JSON web token could not be decoded ({exc!r})")
        if scheme.lower() != "bearer":
            return error(401, "Bad credentials")
        payload = op("apps__get-authenticated").example("200")
        payload.update({"id": registered.id, "slug": registered.slug, "name": registered.name,
                        "html_url": f"{self.web_url}/apps/{registered.slug}",
                        "permissions": {"metadata": "read",
                                        **registered.manifest.get("default_permissions", {})},
                        "events": list(registered.manifest.get("default_events", []))})
        payload["owner"]["login"] = registered.owner
        op("apps__get-authenticated").check_response(200, payload)
        return JSONResponse(payload)
