"""What the GitLab token can do, for `auditbot doctor`: whose it is, its scopes and expiry,
its role in each project it is a member of, and those projects' webhooks where the role may
read them (Maintainer). python-gitlab is synchronous: each call runs in a thread.

docs.gitlab.com/api/users/#get-the-current-user, /api/personal_access_tokens/ (``self``),
/api/projects/#list-all-projects (``membership``, ``permissions``), /api/project_webhooks/.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import gitlab
import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError

from bot.errors import ForgeError, RetryLater

MAINTAINER = 40
MAX_PROJECTS = 100  # one page: enough to judge, and doctor stays quick


@dataclass(frozen=True)
class Hook:
    url: str
    merge_requests_events: bool
    push_events: bool
    note_events: bool
    alert_status: str | None  # "executable", "temporarily_disabled", "disabled"
    disabled_until: str | None


@dataclass(frozen=True)
class ProjectAccess:
    id: int
    path: str
    access_level: int
    hooks: tuple[Hook, ...] | None  # None: the role may not read them


@dataclass(frozen=True)
class TokenReport:
    username: str
    scopes: tuple[str, ...] | None  # None: this GitLab does not say (older than 15.5)
    expires_at: str | None
    projects: tuple[ProjectAccess, ...]


async def token_report(url: str, token: str, *, timeout_s: float = 15.0) -> TokenReport:
    """Raises ForgeError when GitLab refuses the token, RetryLater when it cannot be reached."""
    return await asyncio.to_thread(_report, url, token, timeout_s)


def _report(url: str, token: str, timeout_s: float) -> TokenReport:
    gl = gitlab.Gitlab(url, private_token=token, timeout=timeout_s, per_page=MAX_PROJECTS,
                       retry_transient_errors=False)
    try:
        user = _get(gl, "/user")
        try:
            details = _get(gl, "/personal_access_tokens/self")
        except GitlabError:
            details = None
        projects = gl.http_list("/projects", query_data={
            "membership": True, "simple": False, "per_page": MAX_PROJECTS, "page": 1},
            get_all=False)
        access = tuple(_access(gl, p) for p in projects if isinstance(p, dict))
    except GitlabAuthenticationError:
        raise ForgeError("GitLab refused GITLAB_TOKEN (401)",
                         hint="the token is wrong, revoked or expired: make a new one") from None
    except GitlabError as exc:
        raise ForgeError(f"GitLab answered {exc.response_code}: {exc.error_message}") from None
    except requests.RequestException as exc:
        raise RetryLater(f"cannot reach GitLab at {url}: {type(exc).__name__}",
                         retry_after=60, hint="check GITLAB_URL and the network") from None
    scopes = details.get("scopes") if details else None
    return TokenReport(
        username=str(user.get("username", "")),
        scopes=tuple(scopes) if isinstance(scopes, list) else None,
        expires_at=details.get("expires_at") if details else None,
        projects=access,
    )


def _get(gl: gitlab.Gitlab, path: str) -> dict[str, Any]:
    result = gl.http_get(path)
    return result if isinstance(result, dict) else {}


def _access(gl: gitlab.Gitlab, project: dict[str, Any]) -> ProjectAccess:
    permissions = project.get("permissions") or {}
    levels = [(permissions.get(kind) or {}).get("access_level") or 0
              for kind in ("project_access", "group_access")]
    level = max(levels)
    hooks: tuple[Hook, ...] | None = None
    if level >= MAINTAINER:
        try:
            found = gl.http_list(f"/projects/{project['id']}/hooks", get_all=True)
            hooks = tuple(_hook(h) for h in found if isinstance(h, dict))
        except GitlabAuthenticationError:
            raise
        except GitlabError:  # an instance's own rules: say "cannot read", go on
            hooks = None
    return ProjectAccess(id=int(project["id"]), path=str(project.get("path_with_namespace")),
                         access_level=level, hooks=hooks)


def _hook(data: dict[str, Any]) -> Hook:
    return Hook(
        url=str(data.get("url", "")),
        merge_requests_events=bool(data.get("merge_requests_events")),
        push_events=bool(data.get("push_events")),
        note_events=bool(data.get("note_events")),
        alert_status=data.get("alert_status"),
        disabled_until=data.get("disabled_until"),
    )
