"""The GitHub App manifest `auditbot setup` registers: `app.yml` beside this module, with
the webhook and redirect addresses filled from PUBLIC_URL and the optional features the
operator chose, and the address of GitHub's registration page for it.

A feature adds permissions and the events they cover together, because GitHub refuses a
manifest with an event that no permission covers. Adding one is one entry in ``FEATURES``;
`auditbot setup` makes a ``--flag`` of each (``feature_options`` in the CLI), e.g.::

    "code_scanning": Feature(
        flag="--code-scanning",
        help="Upload findings to GitHub code scanning.",
        permissions={"security_events": "write"},
        events=("code_scanning_alert",),
    ),
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

from bot.errors import ConfigError

MANIFEST_PATH = Path(__file__).with_name("app.yml")
WEBHOOK_PATH = "/webhooks/github"
CALLBACK_PATH = "/setup/callback"
# Lowest to highest: a feature asking for `write` where the base asks for `read` gets `write`.
ACCESS_ORDER = ("read", "write", "admin")


@dataclass(frozen=True)
class Feature:
    """An optional part of the App: the permissions it needs and the events they cover."""

    flag: str
    help: str
    permissions: Mapping[str, str] = field(default_factory=dict)
    events: tuple[str, ...] = ()


# Options of `auditbot setup` that add to app.yml (see the module docstring).
FEATURES: dict[str, Feature] = {
    # docs/code-scanning.md: uploads need security_events: write, and the alerts' webhook
    # (dismissals in the Security tab) needs the same permission.
    "code_scanning": Feature(
        flag="--code-scanning",
        help="Also upload findings to GitHub code scanning and keep alert dismissals in step "
             "(adds security_events: write and the code_scanning_alert event).",
        permissions={"security_events": "write"},
        events=("code_scanning_alert",),
    ),
}


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    """The manifest in ``path`` (Probot's app.yml format), or ConfigError naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError("manifest", f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("manifest", f"{path} is not a mapping of manifest fields")
    return data


def build_manifest(
    base: Mapping[str, Any],
    *,
    public_url: str,
    features: Iterable[Feature] = (),
    name: str | None = None,
) -> dict[str, Any]:
    """``base`` with the webhook and redirect under ``public_url`` and each feature's
    permissions (the higher access wins) and events (each once, in order) added."""
    manifest = copy.deepcopy(dict(base))
    root = public_url.rstrip("/")
    manifest["hook_attributes"] = {**manifest.get("hook_attributes", {}),
                                   "url": root + WEBHOOK_PATH}
    manifest["redirect_url"] = root + CALLBACK_PATH
    if name:
        manifest["name"] = name
    permissions: dict[str, str] = dict(manifest.get("default_permissions") or {})
    events: list[str] = list(manifest.get("default_events") or [])
    for feature in features:
        for permission, access in feature.permissions.items():
            permissions[permission] = _higher(permissions.get(permission), access)
        events.extend(e for e in feature.events if e not in events)
    manifest["default_permissions"] = permissions
    manifest["default_events"] = events
    return manifest


def _higher(current: str | None, wanted: str) -> str:
    if current is None:
        return wanted
    rank = {level: i for i, level in enumerate(ACCESS_ORDER)}
    return wanted if rank.get(wanted, -1) > rank.get(current, -1) else current


def github_web_url(api_url: str) -> str:
    """GitHub's web address from its API address: api.github.com is github.com,
    api.SUBDOMAIN.ghe.com is SUBDOMAIN.ghe.com, and GitHub Enterprise Server's
    https://HOST/api/v3 is https://HOST."""
    parts = urlsplit(api_url.rstrip("/"))
    host = parts.netloc
    if parts.path in ("", "/") and host.startswith("api."):
        return f"{parts.scheme}://{host.removeprefix('api.')}"
    if parts.path.endswith("/api/v3"):
        return f"{parts.scheme}://{host}{parts.path.removesuffix('/api/v3')}"
    raise ConfigError(
        "GITHUB_API_URL",
        f"cannot tell GitHub's web address from {api_url!r}",
        hint="pass --github-url, e.g. https://github.example.com",
    )


def registration_url(web_url: str, state: str, org: str | None = None) -> str:
    """Where the manifest is POSTed: the personal account's or the organisation's page."""
    owner = f"/organizations/{quote(org, safe='')}" if org else ""
    return f"{web_url.rstrip('/')}{owner}/settings/apps/new?state={quote(state, safe='')}"
