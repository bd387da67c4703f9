"""GitLab disables a project webhook that keeps failing (our web process down, a deploy
gap answered 503) and then sends nothing at all: no retry catches that. The reconciler
looks at the hooks of active GitLab projects every ``EVERY_S`` and records the disabled
ones in Redis, where `/readyz` names them and `/metrics` counts them; each is logged.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Protocol, runtime_checkable

from bot.errors import AuditbotError
from bot.jobs.contracts import GITLAB_DISABLED_HOOKS_KEY
from bot.jobs.deps import JobDeps, repository_of
from bot.store import audits

log = logging.getLogger(__name__)


@runtime_checkable
class HasHooks(Protocol):
    async def hook_problem(self, url_prefix: str) -> str | None: ...

EVERY_S = 600
ACTIVE_DAYS = 30
LAST_RUN_KEY = "auditbot:reconcile:gitlab-hooks"


async def check_gitlab_hooks(deps: JobDeps) -> int:
    """Record which active GitLab projects' webhooks GitLab disabled; returns how many."""
    if not await deps.redis.set(LAST_RUN_KEY, "1", nx=True, ex=EVERY_S):
        return 0
    since = audits.now() - timedelta(days=ACTIVE_DAYS)
    found: dict[str, str] = {}
    url_prefix = f"{deps.settings.public_url.rstrip('/')}/webhooks/gitlab"
    for project_id in await audits.recently_active_projects(deps.sessions, "gitlab", since):
        repo = await repository_of(deps, project_id)
        if repo is None:
            continue
        forge = await deps.forges(repo)
        try:
            problem = await forge.hook_problem(url_prefix) if isinstance(forge, HasHooks) else None
        except AuditbotError as exc:  # the token may not read hooks (Maintainer role)
            log.info("could not read the webhooks of %s: %s", repo.full_name, exc)
            continue
        finally:
            await forge.close()
        if problem is not None:
            found[repo.full_name] = problem
            log.error("GitLab webhook of %s: %s; re-enable it in the project's Settings > "
                      "Webhooks (events meanwhile were not delivered)", repo.full_name, problem)
    async with deps.redis.pipeline(transaction=True) as pipe:
        pipe.delete(GITLAB_DISABLED_HOOKS_KEY)
        if found:
            pipe.hset(GITLAB_DISABLED_HOOKS_KEY, mapping=found)
            pipe.expire(GITLAB_DISABLED_HOOKS_KEY, 3 * EVERY_S)
        await pipe.execute()
    return len(found)
