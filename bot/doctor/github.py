"""The GitHub App: its key and id (``GET /app`` with the App JWT), what it may do against
what auditbot asks for (app.yml), and the webhook deliveries that failed lately."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import jwt

from bot.config import Settings
from bot.doctor.report import Line, fail, ok, warn
from bot.errors import AuditbotError, RetryLater
from bot.forges.github.app_hooks import AppHooks, Delivery
from bot.setup.manifest import ACCESS_ORDER, load_manifest

RECENT = timedelta(hours=24)
# What a failed delivery's status says to fix.
DELIVERY_HINTS = {
    0: "GitHub got no answer: is PUBLIC_URL/webhooks/github reachable from the internet?",
    401: "the signature did not verify: WEBHOOK_SECRET must be the app's webhook secret",
    404: "nothing answers at the app's webhook URL: it must be PUBLIC_URL/webhooks/github",
    503: "auditbot could not queue the job: was Redis down? The reconciler asks GitHub to "
         "redeliver each such event once",
}


async def github_lines(settings: Settings, *, now: datetime | None = None) -> list[Line]:
    key = settings.github_private_key()
    assert settings.app_id is not None and key is not None  # settings checked both
    try:
        jwt.encode({"iss": str(settings.app_id)}, key, algorithm="RS256")
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        return [fail("github", f"the private key cannot sign the App JWT ({type(exc).__name__})",
                     hint="PRIVATE_KEY(_PATH) must be the .pem GitHub made for the app")]
    hooks = AppHooks.from_settings(settings, timeout_s=15.0, max_pages=5)
    try:
        app = await hooks.app()
    except RetryLater as exc:
        return [fail("github", str(exc), hint="check GITHUB_API_URL and the network")]
    except AuditbotError as exc:
        return [fail("github", f"GitHub refused APP_ID {settings.app_id} with this key: {exc}",
                     hint="the key must be one of this app's (its settings page makes new "
                          "ones); or run `auditbot setup`")]
    lines = [ok("github", f"App {app.slug or app.name} (id {app.id}) on {settings.github_api_url}: "
                f"the key and APP_ID match")]
    if app.installations == 0:
        lines.append(warn("github", "the app is not installed anywhere yet",
                          hint=f"install it: {app.html_url.rstrip('/')}/installations/new"))
    elif app.installations is not None:
        lines.append(ok("github", f"installed on {app.installations} account(s)"))
    if settings.app_slug and app.slug and settings.app_slug != app.slug:
        lines.append(warn("github", f"APP_SLUG is {settings.app_slug!r} but the app's slug is "
                          f"{app.slug!r}: `@{app.slug} review` comments would be ignored",
                          hint=f"set APP_SLUG={app.slug}"))
    lines.extend(_grants(app.permissions, app.events))
    lines.extend(await _webhook_lines(hooks, settings.public_url))
    try:
        deliveries = await hooks.deliveries((now or datetime.now(UTC)) - RECENT)
    except AuditbotError as exc:
        return [*lines, warn("github", f"cannot list the app's webhook deliveries: {exc}")]
    lines.append(_deliveries_line(deliveries))
    return lines


async def _webhook_lines(hooks: AppHooks, public_url: str) -> list[Line]:
    """A webhook URL left from another host still gets deliveries that look fine on GitHub's
    side: only its address tells they never reach this auditbot."""
    target = public_url.rstrip("/") + "/webhooks/github"
    try:
        url, verified = await hooks.webhook()
    except AuditbotError as exc:
        return [warn("github", f"cannot read the app's webhook settings: {exc}")]
    lines = []
    if url is None or url.rstrip("/") != target:
        lines.append(warn("github", f"the app's webhook URL is {url or 'not set'}, not {target}",
                          hint="set it in the app's settings on GitHub (or correct PUBLIC_URL)"))
    else:
        lines.append(ok("github", f"the app's webhook URL is {target}"))
    if not verified:
        lines.append(warn("github", "GitHub does not verify the TLS certificate of the webhook's "
                          "host (SSL verification is off)",
                          hint="turn it on in the app's settings once the host has a valid "
                               "certificate"))
    return lines


def _grants(permissions: dict[str, str], events: tuple[str, ...]) -> list[Line]:
    """What app.yml asks for and the app lacks (it may have been registered by hand, or
    before auditbot asked for more)."""
    wanted = load_manifest()
    rank = {level: i for i, level in enumerate(ACCESS_ORDER)}
    short = [
        f"{name}: {level}" for name, level in wanted.get("default_permissions", {}).items()
        if rank.get(permissions.get(name, ""), -1) < rank.get(level, 0)
    ]
    missing = [e for e in wanted.get("default_events", []) if e not in events]
    if not short and not missing:
        return [ok("github", "the app has the permissions and events auditbot uses")]
    parts = ([f"permissions {', '.join(short)}"] if short else []) + (
        [f"events {', '.join(missing)}"] if missing else [])
    return [warn("github", f"the app lacks {' and '.join(parts)}",
                 hint="add them in the app's settings on GitHub (each installation must then "
                      "accept them)")]


def _deliveries_line(deliveries: list[Delivery]) -> Line:
    if not deliveries:
        return ok("github", "no webhook deliveries in the last 24 h")
    succeeded = {d.guid for d in deliveries if not d.failed}
    lost = {d.guid: d for d in reversed(deliveries) if d.failed and d.guid not in succeeded}
    if not lost:
        return ok("github", f"{len(deliveries)} webhook deliveries in the last 24 h, every "
                  "event delivered")
    codes = Counter(d.status_code for d in lost.values())
    newest = max(lost.values(), key=lambda d: d.delivered_at)
    common = codes.most_common(1)[0][0]
    said = ", ".join(f"{n} x {code or 'no answer'}" for code, n in codes.most_common())
    return warn(
        "github",
        f"{len(lost)} of {len({d.guid for d in deliveries})} events in the last 24 h never "
        f"reached auditbot ({said}; latest {newest.event} at "
        f"{newest.delivered_at:%Y-%m-%d %H:%M} UTC)",
        hint=DELIVERY_HINTS.get(common, "see the app's Advanced settings page on GitHub "
                                        "for each delivery's answer"),
    )
