"""GitHub's manifest flow as `auditbot setup` runs it: where the manifest is posted, the
``state`` the redirect must bring back, and what happens to the code it brings: exchanged on
the API host, the key saved under DATA_DIR (mode 0600) and the settings written to `.env`.

docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import BadInput
from bot.forges.github.registration import Registration, convert_manifest_code
from bot.logs import register_secrets
from bot.setup.envfile import update_env_file, write_private_key
from bot.setup.manifest import registration_url

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class SetupPlan:
    """What to register and where the results go."""

    manifest: dict[str, Any]
    web_url: str  # where the browser posts the manifest
    api_url: str  # where the code is exchanged
    env_path: Path
    data_dir: Path
    org: str | None = None


@dataclass(frozen=True)
class Finished:
    registration: Registration
    key_path: Path
    written: tuple[str, ...]  # the keys set in .env
    removed: tuple[str, ...] = ()  # keys dropped because they would override the new ones


@dataclass
class ManifestFlow:
    """One registration: ``state`` is made here and must come back with the code."""

    plan: SetupPlan
    state: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    finished: Finished | None = None

    @property
    def form_action(self) -> str:
        return registration_url(self.plan.web_url, self.state, self.plan.org)

    def state_matches(self, state: str | None) -> bool:
        return state is not None and hmac.compare_digest(state.encode(), self.state.encode())

    async def complete(self, code: str | None, state: str | None) -> Finished:
        """Check ``state``, exchange ``code``, save the key and write `.env`. A state that
        does not match (or a flow already finished) is refused before GitHub is asked."""
        if self.finished is not None:
            raise BadInput("this registration is already complete",
                           hint="run `auditbot setup` again to register another app")
        if not self.state_matches(state):
            raise BadInput(
                "the redirect's state does not match the one this page sent to GitHub",
                hint="start the registration from this page again",
            )
        if not code:
            raise BadInput("GitHub's redirect brought no code",
                           hint="start the registration from this page again")
        register_secrets([code])  # used up by the exchange, but a log has no business with it
        app = await convert_manifest_code(self.plan.api_url, code)
        register_secrets([app.pem.strip(), app.webhook_secret])
        key_path = write_private_key(self.plan.data_dir, f"github-app-{app.id}.pem", app.pem)
        values = {
            "APP_ID": str(app.id),
            "PRIVATE_KEY_PATH": str(key_path),
            "WEBHOOK_SECRET": app.webhook_secret,
            "APP_SLUG": app.slug,
        }
        if self.plan.api_url.rstrip("/") != DEFAULT_API_URL:
            values["GITHUB_API_URL"] = self.plan.api_url
        # PRIVATE_KEY wins over PRIVATE_KEY_PATH: an old app's inline key would be used
        # with the new app's id.
        removed = update_env_file(self.plan.env_path, values, remove=["PRIVATE_KEY"])
        self.finished = Finished(app, key_path, tuple(values), tuple(removed))
        logger.info("registered GitHub App %s (id %d) for %s; settings written to %s",
                    app.slug, app.id, app.owner, self.plan.env_path)
        return self.finished
