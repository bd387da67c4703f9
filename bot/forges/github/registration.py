"""The last step of GitHub's manifest flow: the temporary code becomes the new App's id,
private key and webhook secret (``POST /app-manifests/{code}/conversions``, no
authentication; on GitHub Enterprise Server under ``/api/v3``).

docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest and
docs.github.com/en/rest/apps/apps#create-a-github-app-from-a-manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from githubkit import GitHub, UnauthAuthStrategy
from githubkit.exception import GitHubException, RequestFailed

from bot.errors import ForgeError, NotFound


@dataclass(frozen=True)
class Registration:
    """A newly registered App; ``pem`` and ``webhook_secret`` are secrets (not in repr)."""

    id: int
    slug: str
    name: str
    owner: str
    html_url: str
    pem: str = field(repr=False)
    webhook_secret: str = field(repr=False)

    @property
    def install_url(self) -> str:
        """Where an owner installs the App on repositories."""
        return f"{self.html_url.rstrip('/')}/installations/new"


async def convert_manifest_code(
    api_url: str, code: str, *, timeout_s: float = 30.0
) -> Registration:
    """Exchange ``code`` (it works once, within an hour of the redirect) for the App."""
    gh = GitHub(UnauthAuthStrategy(), base_url=api_url, user_agent="auditbot",
                timeout=timeout_s, http_cache=False, auto_retry=False)
    try:
        async with gh:
            response = await gh.rest.apps.async_create_from_manifest(code)
    except RequestFailed as exc:
        status = exc.response.status_code
        if status == 404:
            raise NotFound(
                "GitHub does not know this registration code",
                hint="a code works once and for one hour: start the registration again",
            ) from None
        raise ForgeError(f"GitHub answered {status} to the registration code") from None
    except GitHubException as exc:
        raise ForgeError(f"cannot reach GitHub at {api_url}: {type(exc).__name__}",
                         hint="check --github-url or GITHUB_API_URL") from None
    app = response.parsed_data
    if not app.webhook_secret:
        # GitHub makes one whenever the manifest has a webhook; auditbot's always has.
        raise ForgeError("GitHub registered the app without a webhook secret",
                         hint="set one in the app's settings and in WEBHOOK_SECRET")
    owner = getattr(app.owner, "login", None) or getattr(app.owner, "slug", "")
    # The slug is optional in GitHub's description; the app's page ends with it.
    slug = app.slug if isinstance(app.slug, str) else app.html_url.rstrip("/").rsplit("/", 1)[-1]
    return Registration(
        id=app.id, slug=slug, name=app.name, owner=str(owner),
        html_url=app.html_url, pem=app.pem, webhook_secret=app.webhook_secret,
    )
