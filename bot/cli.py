"""The `auditbot` command line: serve, worker, migrate, review, providers, createuser,
setup, doctor.

Bad settings end the process with one line and exit code 2; a database or Redis that does
not answer or refuses us ends `migrate`, `serve`, `worker` and `createuser` with one line
naming the setting and the cause, exit code 1."""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from bot.config import Settings, load_settings
from bot.errors import ConfigError, Unavailable
from bot.logs import mask, register_secrets, setup_logging

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 1
F = TypeVar("F", bound=Callable[..., Any])


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
    register_secrets(settings.secret_values())
    setup_logging(settings.log_level, settings.log_format)
    return settings


def unavailable(exc: Unavailable) -> NoReturn:
    click.echo(f"auditbot: {mask(str(exc))}", err=True)
    sys.exit(EXIT_UNAVAILABLE)


def services_or_exit(settings: Settings, *, database: bool = True, redis: bool = True) -> None:
    """Stop here, with one line, when the database or Redis does not answer or refuses us."""
    import asyncio

    from bot.preflight import check_database, check_redis

    async def check() -> str | None:
        if redis:
            await check_redis(settings.redis_url)
        if not database:
            return None
        await check_database(settings.database_url)
        return await _schema_warning(settings.database_url)

    try:
        warning = asyncio.run(check())
    except Unavailable as exc:
        unavailable(exc)
    if warning is not None:
        # Not fatal: a rolling upgrade may start processes before `migrate` has run.
        click.echo(f"auditbot: warning: {warning} (/readyz answers 503 until then)", err=True)


async def _schema_warning(database_url: str) -> str | None:
    from bot.store.db import create_engine
    from bot.store.schema import schema_status

    engine = create_engine(database_url)
    try:
        status = await schema_status(engine)
    finally:
        await engine.dispose()
    return None if status.usable else status.describe()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="auditbot")
def main() -> None:
    """auditbot audits pull requests with LLMs and static analysis.

    Settings come from the environment and a `.env` file; see the README.
    """


@main.command()
@click.option("--host", default=None, help="Interface to bind (default: HOST or 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port to listen on (default: PORT or 3000).",
)
@click.option(
    "--dev",
    is_flag=True,
    help="Development mode: generate a JWT_SECRET for this session if none is set.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Web processes (each with its own connections; any of them answers a request).",
)
def serve(host: str | None, port: int | None, dev: bool, workers: int) -> None:
    """Run the web process: webhooks, API, report pages, /healthz, /readyz, /metrics.

    It verifies and enqueues deliveries; the audits themselves run in `auditbot worker`.
    """
    import os
    import shutil
    import tempfile

    import uvicorn

    settings = settings_or_exit()
    if settings.jwt_secret is None:
        if not dev:
            fail(
                "invalid setting JWT_SECRET: not set; the API and report links need it "
                "(generate one with `openssl rand -hex 32`, or pass --dev for a throwaway one)"
            )
        generated = secrets.token_hex(32)
        register_secrets([generated])
        # The web processes read their settings from this environment (serving_app): all
        # of them must sign and verify with the one secret.
        os.environ["JWT_SECRET"] = generated
        click.echo(
            "auditbot: --dev generated a JWT_SECRET for this session only; "
            "report links and logins end when the process stops",
            err=True,
        )
    services_or_exit(settings)
    # /metrics of N processes: prometheus_client's multiprocess mode in a folder of this
    # serve's own, in the environment before uvicorn starts the processes (each reads it
    # when it loads prometheus_client). One process serves its own figures, as a folder
    # given from outside (say the workers') would mix other processes' into them.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    shared = None
    if workers > 1:
        shared = tempfile.mkdtemp(prefix="auditbot-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared
    # An import string and a factory: uvicorn runs more than one process only for an app
    # each process can build itself (given an app object it runs exactly one). With one
    # worker the factory runs in this process; with more, uvicorn's supervisor (this
    # process) shares the socket with them, restarts one that dies and stops them all on
    # SIGTERM or SIGINT (then returns here).
    try:
        uvicorn.run(
            "bot.web.main:serving_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
            workers=workers,
            proxy_headers=True,
        )
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)


@main.command()
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus /metrics on HOST:PORT (default: WORKER_METRICS_PORT; unset: none).",
)
def worker(burst: bool, metrics_port: int | None) -> None:
    """Run an arq worker: it takes audit jobs from Redis and runs them.

    Start as many as you like on the same REDIS_URL; each job runs once.
    """
    import os

    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from bot.jobs.metrics import Exporter
    from bot.jobs.runner import AuditWorker, RedisGone
    from bot.jobs.worker import worker_settings

    settings = settings_or_exit()
    services_or_exit(settings)
    # prometheus_client reads this variable itself, when it loads, and writes there.
    shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
    if shared is not None and not os.path.isdir(shared):
        fail(f"invalid setting PROMETHEUS_MULTIPROC_DIR: {shared!r} is not a directory "
             "(create it, empty, before the workers start)")
    port = metrics_port or settings.worker_metrics_port
    exporter = None
    if port is not None:
        try:
            exporter = Exporter(settings.redis_url, settings.host, port, shared)
        except (OSError, ValueError) as exc:
            cause = getattr(exc, "strerror", None) or str(exc)
            unavailable(Unavailable(
                "WORKER_METRICS_PORT",
                f"cannot listen on {settings.host}:{port} ({cause}); give each worker on a "
                "host its own port, or the same PROMETHEUS_MULTIPROC_DIR to share one",
            ))
    try:
        AuditWorker(**worker_settings(settings), burst=burst).run()
    except RedisGone as exc:
        # A running worker waited REDIS_OUTAGE_LIMIT_S for Redis; its supervisor restarts it.
        unavailable(exc)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        # Only at start-up (arq has already retried the connection); a running worker
        # rides out outages up to REDIS_OUTAGE_LIMIT_S.
        click.echo(f"auditbot: REDIS_URL: Redis does not answer ({mask(str(exc))})", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    finally:
        if exporter is not None:
            exporter.close()


@main.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def migrate(revision: str) -> None:
    """Create or upgrade the database schema (DATABASE_URL) to the latest revision."""
    from bot.preflight import database_problem
    from bot.store.migrate import upgrade

    settings = settings_or_exit()
    try:
        upgrade(settings.database_url, revision)
    except Exception as exc:
        problem = database_problem(exc, settings.database_url)
        if problem is None:
            raise
        unavailable(problem)
    click.echo(f"auditbot: database at revision {revision}")


@main.command()
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@click.option("--base", help="Base ref (default: the upstream branch, else HEAD~1).")
@click.option("--head", help="Head ref (default: HEAD).")
@click.option(
    "--working-tree",
    is_flag=True,
    help="Audit the uncommitted changes (staged, unstaged and untracked files) against "
    "--base (default: HEAD): the pre-commit use.",
)
@click.option(
    "--zip",
    "zip_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Audit the text files of a ZIP archive instead of a git change.",
)
@click.option(
    "--format",
    "output_format",
    default="table",
    show_default=True,
    type=click.Choice(["table", "json", "markdown", "sarif", "html"]),
)
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here.")
@click.option(
    "--fail-on",
    default=None,
    type=click.Choice(["critical", "high", "medium", "low", "info", "never"]),
    help="Exit 1 when a finding reaches this severity (default: the repository's fail_on).",
)
@click.option(
    "--min-severity",
    default=None,
    type=click.Choice(["critical", "high", "medium", "low", "info"]),
    help="Report only findings of this severity and above (default: all). --fail-on still "
    "weighs every finding.",
)
def review(
    path: Path,
    base: str | None,
    head: str | None,
    working_tree: bool,
    zip_file: Path | None,
    output_format: str,
    output: Path | None,
    fail_on: str | None,
    min_severity: str | None,
) -> None:
    """Audit a local git change (or a ZIP) in-process: no server, Redis or forge needed.

    Offline analyzers always run; a configured LLM provider runs beside them. The audit is
    recorded in DATABASE_URL and DATA_DIR when they are set, else in the user's cache
    folder (~/.cache/auditbot), never in the audited repository. Exit status: 1 when a
    finding reaches --fail-on, 0 otherwise, 2 on usage errors.
    """
    import asyncio

    from bot.config import user_cache_dir
    from bot.errors import AuditbotError
    from bot.findings import Severity
    from bot.forges.local.git import WORKTREE
    from bot.jobs.local import LocalReview, run_local_review, with_local_state
    from bot.jobs.progress import TerminalProgress
    from bot.reports.model import Report
    from bot.reports.render import render

    settings = with_local_state(settings_or_exit(), user_cache_dir())
    if working_tree and (head is not None or zip_file is not None):
        fail("--working-tree audits the files on disk; it takes no --head or --zip")
    if zip_file is None and not path.is_dir():
        fail(f"{path}: not a directory")
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"DATA_DIR: cannot create {settings.data_dir}: {exc.strerror}")
    progress = TerminalProgress(sys.stderr)
    review = LocalReview(
        path=path, base=base, head=WORKTREE if working_tree else head, zip_file=zip_file
    )
    try:
        result = asyncio.run(run_local_review(settings, review, progress=progress))
    except AuditbotError as exc:
        progress.close()
        fail(str(exc))
    progress.close()
    report = result.report
    if min_severity is not None:
        floor = Severity(min_severity)
        shown = [f for f in report.findings if f.severity.at_least(floor)]
        if len(shown) < len(report.findings):
            click.echo(f"auditbot: {len(report.findings) - len(shown)} finding(s) below "
                       f"{floor.value} not shown (--min-severity)", err=True)
        report = Report.build(report.task, shown, report.skipped)
    text = render(report, output_format)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"auditbot: report written to {output}", err=True)
    else:
        click.echo(text, nl=False)
    threshold = Severity(fail_on) if fail_on not in (None, "never") else None
    if fail_on is None:
        threshold = result.outcome.config.review.fail_on  # the repository's rule
    if threshold is not None and any(
        f.severity.at_least(threshold) for f in result.outcome.open_findings
    ):
        sys.exit(1)


@main.command()
@click.option("--email", prompt=True, help="The account's e-mail address.")
@click.option("--admin", is_flag=True, help="Make the account an administrator.")
@click.option(
    "--password",
    default=None,
    help="The password (prompted for when omitted; or set AUDITBOT_PASSWORD).",
    envvar="AUDITBOT_PASSWORD",
)
def createuser(email: str, admin: bool, password: str | None) -> None:
    """Create an account, e.g. the first administrator of a new server."""
    import asyncio

    from bot.errors import BadInput
    from bot.web.auth_users import create_user

    settings = settings_or_exit()
    services_or_exit(settings, redis=False)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user_id = asyncio.run(create_user(settings, email, password, admin=admin))
    except BadInput as exc:
        fail(str(exc))
    kind = "administrator" if admin else "member"
    click.echo(f"auditbot: created {kind} {email.strip().lower()} (id {user_id})")


@main.command()
def providers() -> None:
    """List the LLM provider presets, which one is configured, and the price table."""
    from bot.llm.catalog import providers_text

    click.echo(providers_text(settings_or_exit()))


def feature_options(command: F) -> F:
    """A ``--flag`` for each optional feature of the GitHub App's manifest."""
    from bot.setup.manifest import FEATURES

    for name, feature in reversed(FEATURES.items()):
        command = click.option(feature.flag, name, is_flag=True, help=feature.help)(command)
    return command


@main.command()
@click.option("--org", help="Register the app for this organisation (default: your account).")
@click.option(
    "--github-url",
    help="GitHub Enterprise Server's address, e.g. https://github.example.com "
    "(default: github.com, or the GitHub that GITHUB_API_URL names).",
)
@click.option("--public-url", help="Where GitHub reaches auditbot (default: PUBLIC_URL).")
@click.option("--name", help="The app's name on GitHub (default: app.yml's, 34 characters "
              "at most, unique on GitHub).")
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Another manifest in app.yml's format (default: the one auditbot ships).",
)
@click.option(
    "--env-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path(".env"),
    show_default=True,
    help="Where the app's settings are written; other lines stay as they are.",
)
@click.option("--host", default=None, help="Interface the page listens on (default: HOST).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port the page listens on (default: PORT or 3000).")
@feature_options
def setup(
    org: str | None,
    github_url: str | None,
    public_url: str | None,
    name: str | None,
    manifest_path: Path | None,
    env_file: Path,
    host: str | None,
    port: int | None,
    **features: bool,
) -> None:
    """Register auditbot's GitHub App through GitHub's manifest flow.

    Serves a page that posts the manifest (app.yml, its webhook and return address under
    PUBLIC_URL) to GitHub; when GitHub sends the browser back, the app's id, private key
    (saved under DATA_DIR, mode 0600), webhook secret and slug go into the env file, and
    the page links to the app's installation.
    """
    from bot.setup.flow import ManifestFlow
    from bot.setup.page import START_PATH
    from bot.setup.run import local_only, make_plan, serve_until_registered, setup_settings

    try:
        settings = setup_settings(env_file)
        plan = make_plan(
            settings, env_file=env_file, org=org, github_url=github_url, public_url=public_url,
            name=name, manifest_path=manifest_path,
            features=[feature for feature, on in features.items() if on])
    except ConfigError as exc:
        fail(f"invalid setting {exc}")
    setup_logging(settings.log_level, settings.log_format)
    flow = ManifestFlow(plan)
    root = (public_url or settings.public_url).rstrip("/")
    click.echo(f"auditbot: open {root}{START_PATH} to register the GitHub App on {plan.web_url} "
               f"(listening on {host or settings.host}:{port or settings.port}; "
               "Ctrl-C to stop)", err=True)
    if local_only(root):
        click.echo(f"auditbot: warning: GitHub cannot deliver webhooks to {root}; "
                   "set PUBLIC_URL to an address GitHub reaches (or change the app's "
                   "webhook URL later)", err=True)
    # Ctrl-C: uvicorn stops the page, then raises the interrupt again.
    with contextlib.suppress(KeyboardInterrupt):
        serve_until_registered(flow, host or settings.host, port or settings.port)
    if flow.finished is None:
        click.echo("auditbot: setup stopped before GitHub sent the app back; nothing written",
                   err=True)
        sys.exit(EXIT_UNAVAILABLE)
    done = flow.finished
    app = done.registration
    click.echo(f"auditbot: registered GitHub App {app.slug} (id {app.id}) for {app.owner}; "
               f"wrote {', '.join(done.written)} to {env_file}"
               + (f" (removed {', '.join(done.removed)})" if done.removed else "")
               + f"; private key in {done.key_path}")
    click.echo(f"auditbot: install it on repositories: {app.install_url}")


@main.command()
@click.option("--llm", is_flag=True,
              help="Also make one tiny call to the model provider (it costs a few tokens).")
def doctor(llm: bool) -> None:
    """Check this installation and explain, line by line, what to fix.

    Settings, the database and its schema, Redis and its persistence, the GitHub App (its
    key and id, its permissions, failed webhook deliveries of the last 24 h), GitLab's token
    and webhooks, and with --llm the model. Exit status: 1 when a check fails, else 0.
    """
    import asyncio

    from bot.doctor.report import fail as fail_line
    from bot.doctor.report import failed, render
    from bot.doctor.run import diagnose

    try:
        settings = load_settings()
    except ConfigError as exc:
        click.echo(render([fail_line("settings", str(exc), hint="fix it in the environment "
                                     "or .env; nothing else was checked")]), nl=False)
        sys.exit(EXIT_UNAVAILABLE)
    register_secrets(settings.secret_values())
    setup_logging("ERROR", settings.log_format)  # the lines below say it all
    lines = asyncio.run(diagnose(settings, llm=llm))
    click.echo(mask(render(lines)), nl=False)
    sys.exit(EXIT_UNAVAILABLE if failed(lines) else 0)
