"""The `auditbot` command line: serve, worker, migrate (and, from later parts, review,
providers, createuser). Bad settings end the process with one line and exit code 2."""

from __future__ import annotations

import secrets
import sys
from typing import NoReturn

import click

from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.logs import register_secrets, setup_logging

EXIT_USAGE = 2


def fail(message: str) -> NoReturn:
    click.echo(f"auditbot: {message}", err=True)
    sys.exit(EXIT_USAGE)


def settings_or_exit(**overrides: str) -> Settings:
    """Load settings; a bad one stops here with one clear line, never a traceback."""
    try:
        settings = load_settings()
        if overrides:
            settings = settings.model_copy(update=overrides)
    except ConfigError as exc:
        fail(f"invalid setting {exc}")
    register_secrets(
        value.get_secret_value()
        for value in settings.model_dump().values()
        if hasattr(value, "get_secret_value")
    )
    setup_logging(settings.log_level, settings.log_format)
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="auditbot")
def main() -> None:
    """auditbot audits pull requests with LLMs and static analysis.

    Settings come from the environment and a `.env` file; see the README.
    """


@main.command()
@click.option("--host", default=None, help="Interface to bind (default: HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: PORT or 3000).")
@click.option(
    "--dev",
    is_flag=True,
    help="Development mode: generate a JWT_SECRET for this session if none is set.",
)
@click.option("--workers", type=int, default=1, show_default=True, help="Web processes.")
def serve(host: str | None, port: int | None, dev: bool, workers: int) -> None:
    """Run the web process: webhooks, API, report pages, /healthz, /readyz, /metrics.

    It verifies and enqueues deliveries; the audits themselves run in `auditbot worker`.
    """
    import uvicorn

    settings = settings_or_exit()
    if settings.jwt_secret is None:
        if not dev:
            fail(
                "invalid setting JWT_SECRET: not set; the API and report links need it "
                "(generate one with `openssl rand -hex 32`, or pass --dev for a throwaway one)"
            )
        from pydantic import SecretStr

        generated = secrets.token_hex(32)
        register_secrets([generated])
        settings = settings.model_copy(update={"jwt_secret": SecretStr(generated)})
        click.echo(
            "auditbot: --dev generated a JWT_SECRET for this session only; "
            "report links and logins end when the process stops",
            err=True,
        )
    from bot.web.main import build_app

    app = build_app(settings)
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        workers=1 if workers <= 1 else None,
        proxy_headers=True,
    )


@main.command()
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
def worker(burst: bool) -> None:
    """Run an arq worker: it takes audit jobs from Redis and runs them.

    Start as many as you like on the same REDIS_URL; each job runs once.
    """
    from arq.worker import Worker

    from bot.jobs.worker import worker_settings

    settings = settings_or_exit()
    Worker(**worker_settings(settings), burst=burst).run()


@main.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def migrate(revision: str) -> None:
    """Create or upgrade the database schema (DATABASE_URL) to the latest revision."""
    from bot.store.migrate import upgrade

    settings = settings_or_exit()
    upgrade(settings.database_url, revision)
    click.echo(f"auditbot: database at revision {revision}")
