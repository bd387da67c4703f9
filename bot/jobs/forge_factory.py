"""Builds the forge adapter for a job's repository. The GitHub App client is made once per
worker (its installation tokens are shared through Redis); GitLab uses one token."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.config import Settings
from bot.errors import ConfigError, ForgeError
from bot.forges.pull_requests import PullRequestForge
from bot.jobs.contracts import Repository
from bot.jobs.deps import ForgeFactory


def build_forge_factory(settings: Settings, redis: Redis) -> ForgeFactory:
    github_app = None
    if settings.github_enabled:
        from bot.forges.github.auth import GitHubApp

        github_app = GitHubApp.from_settings(
            settings, redis, write_spacing_s=settings.github_write_spacing_s
        )
    bot_login = f"{settings.app_slug}[bot]" if settings.app_slug else None

    async def factory(repo: Repository) -> PullRequestForge:
        if repo.forge == "github":
            if github_app is None:
                raise ConfigError("APP_ID", "a GitHub job arrived but the GitHub App is not set up")
            if repo.installation_id is None:
                raise ForgeError(
                    f"{repo.full_name}: no GitHub App installation is known for it",
                    hint="install the app on the repository, or wait for its next webhook",
                )
            from bot.forges.github.client import GitHubClient
            from bot.forges.github.forge import GitHubForge

            owner, _, name = repo.full_name.partition("/")
            client = GitHubClient(github_app, installation_id=repo.installation_id, owner=owner,
                                  repo=name, bot_login=bot_login)
            forge = GitHubForge(client)
            await forge.open()
            return forge
        if not settings.gitlab_enabled:
            raise ConfigError("GITLAB_TOKEN", "a GitLab job arrived but GitLab is not set up")
        from bot.forges.gitlab.forge import GitLabForge

        return GitLabForge.from_settings(settings, repo.id, redis=redis)

    return factory
