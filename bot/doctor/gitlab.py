"""GitLab: the token (whose, scopes, expiry), its role in each project, and the webhooks
that should bring merge requests, pushes and comments to PUBLIC_URL/webhooks/gitlab."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.config import Settings
from bot.doctor.report import Line, fail, ok, skip, warn
from bot.errors import AuditbotError
from bot.forges.gitlab.health import Hook, ProjectAccess, token_report

DEVELOPER = 30  # posts commit statuses (Reporter may not)
EXPIRY_WARNING = timedelta(days=14)
ROLES = {10: "Guest", 15: "Planner", 20: "Reporter", 30: "Developer", 40: "Maintainer",
         50: "Owner"}
SHOWN = 5  # projects named in one line


async def gitlab_lines(settings: Settings, *, today: date | None = None) -> list[Line]:
    assert settings.gitlab_token is not None
    try:
        report = await token_report(settings.gitlab_url, settings.gitlab_token.get_secret_value())
    except AuditbotError as exc:
        return [fail("gitlab", str(exc))]
    lines = [ok("gitlab", f"GITLAB_TOKEN is {report.username}'s on {settings.gitlab_url}")]
    if report.scopes is not None and "api" not in report.scopes:
        lines.append(fail("gitlab", f"the token's scopes are {', '.join(report.scopes)}: "
                          "auditbot needs api (comments, discussions, commit statuses)",
                          hint="make a token with the api scope"))
    if report.expires_at:
        left = date.fromisoformat(report.expires_at) - (today or datetime.now(UTC).date())
        if left <= EXPIRY_WARNING:
            lines.append(warn("gitlab", f"the token expires on {report.expires_at}",
                              hint="make a new one and set GITLAB_TOKEN before then"))
    if not report.projects:
        return [*lines, warn("gitlab", "the token's user is a member of no project",
                             hint="add it to the projects to audit, as Developer")]
    lines.append(_roles(report.projects))
    lines.extend(_hooks(report.projects, settings.public_url.rstrip("/") + "/webhooks/gitlab"))
    return lines


def _names(projects: list[ProjectAccess]) -> str:
    names = ", ".join(p.path for p in projects[:SHOWN])
    return names + (f" and {len(projects) - SHOWN} more" if len(projects) > SHOWN else "")


def _roles(projects: tuple[ProjectAccess, ...]) -> Line:
    low = [p for p in projects if p.access_level < DEVELOPER]
    if not low:
        return ok("gitlab", f"Developer or more in {len(projects)} project(s)")
    roles = sorted({ROLES.get(p.access_level, str(p.access_level)) for p in low})
    return warn("gitlab", f"only {'/'.join(roles)} in {_names(low)}: auditbot can comment but "
                "not set the commit status that blocks a merge",
                hint="give the token's user the Developer role there")


def _hooks(projects: tuple[ProjectAccess, ...], target: str) -> list[Line]:
    lines: list[Line] = []
    unseen = [p for p in projects if p.hooks is None]
    seen = [p for p in projects if p.hooks is not None]
    without = [p for p in seen if not any(_ours(h, target) for h in p.hooks or ())]
    if without:
        lines.append(warn("gitlab", f"no webhook to {target} in {_names(without)}",
                          hint="add one with GITLAB_WEBHOOK_SECRET as its secret token, for "
                               "merge request, push and comment events (a group webhook "
                               "works too)"))
    for project in seen:
        for hook in (h for h in project.hooks or () if _ours(h, target)):
            lines.extend(_hook_lines(project, hook))
    if seen and not lines:
        lines.append(ok("gitlab", f"webhooks to {target} are enabled in {len(seen)} "
                        "project(s)"))
    if unseen:
        lines.append(skip("gitlab", f"cannot read the webhooks of {_names(unseen)} (that needs "
                          "Maintainer): check them in each project's Settings > Webhooks"))
    return lines


def _ours(hook: Hook, target: str) -> bool:
    return hook.url.rstrip("/") == target


def _hook_lines(project: ProjectAccess, hook: Hook) -> list[Line]:
    lines = []
    if hook.alert_status in ("disabled", "temporarily_disabled"):
        until = f" until {hook.disabled_until}" if hook.disabled_until else ""
        lines.append(fail("gitlab", f"GitLab {hook.alert_status.replace('_', ' ')} the webhook "
                          f"of {project.path}{until} after failed deliveries",
                          hint="fix the cause (is auditbot reachable? does the secret match?), "
                               "then send a test event from the webhook's page to enable it"))
    missing = [name for name, on in (("merge request", hook.merge_requests_events),
                                     ("push", hook.push_events),
                                     ("comment", hook.note_events)) if not on]
    if missing:
        lines.append(warn("gitlab", f"the webhook of {project.path} leaves out "
                          f"{', '.join(missing)} events",
                          hint="tick them in the project's Settings > Webhooks"))
    return lines
