"""`auditbot setup` from the options to the end: the plan (which manifest, which GitHub,
where the results go), the page served until GitHub sends the new App back, and the
settings it needs, which are only a few, so that a `.env` holding a broken GitHub
configuration (the thing setup replaces) does not stop it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn

from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.setup.flow import ManifestFlow, SetupPlan
from bot.setup.manifest import (
    FEATURES,
    build_manifest,
    github_web_url,
    load_manifest,
)
from bot.setup.page import setup_app

# The settings setup reads; the rest of `.env` is left for `serve` to check.
SETUP_SETTINGS = ("PUBLIC_URL", "DATA_DIR", "GITHUB_API_URL", "HOST", "PORT",
                  "LOG_LEVEL", "LOG_FORMAT")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def setup_settings(env_file: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings setup needs, from the environment over ``env_file``."""
    return load_settings(environ, env_file=env_file, only=SETUP_SETTINGS)


def make_plan(
    settings: Settings,
    *,
    env_file: Path,
    org: str | None = None,
    github_url: str | None = None,
    public_url: str | None = None,
    name: str | None = None,
    manifest_path: Path | None = None,
    features: Iterable[str] = (),
) -> SetupPlan:
    """``github_url`` is GitHub Enterprise Server's web address (its API is /api/v3);
    without it, GitHub is the one GITHUB_API_URL names (github.com by default)."""
    if github_url:
        web_url = github_url.rstrip("/")
        parts = urlsplit(web_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("--github-url", f"expected https://HOST, got {github_url!r}")
        api_url = f"{web_url}/api/v3"
    else:
        api_url = settings.github_api_url.rstrip("/")
        web_url = github_web_url(api_url)
    base = load_manifest(manifest_path) if manifest_path else load_manifest()
    manifest = build_manifest(
        base, public_url=public_url or settings.public_url, name=name,
        features=[FEATURES[f] for f in features])
    return SetupPlan(manifest=manifest, web_url=web_url, api_url=api_url, env_path=env_file,
                     data_dir=settings.data_dir, org=org)


def local_only(public_url: str) -> bool:
    """GitHub cannot deliver webhooks to this machine's loopback address."""
    return (urlsplit(public_url).hostname or "") in LOCAL_HOSTS


def serve_until_registered(flow: ManifestFlow, host: str, port: int) -> None:
    """Serve the page until the App is registered (then stop) or the process is stopped."""
    server: uvicorn.Server | None = None

    def stop(_: object) -> None:
        assert server is not None
        server.should_exit = True

    server = uvicorn.Server(uvicorn.Config(
        setup_app(flow, on_done=stop), host=host, port=port, log_level="warning",
        lifespan="off", access_log=False,  # the callback's query holds the one-time code
    ))
    server.run()
