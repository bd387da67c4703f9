"""GitHub code scanning through githubkit: upload an analysis as SARIF, follow its processing,
and read and set the state of auditbot's alerts.

Held by :class:`bot.forges.github.forge.GitHubForge` as ``code_scanning``. The App needs the
``security_events: write`` permission (``auditbot setup --code-scanning``); a private
repository without GitHub Advanced Security (Code Security) answers 403 on upload
(docs.github.com/rest/code-scanning/code-scanning#upload-an-analysis-as-sarif-data).
"""

from __future__ import annotations

from typing import Any

from bot.errors import NotFound
from bot.forges.base import ForgeRefused
from bot.forges.code_scanning import (
    AlertInfo,
    AlertState,
    CodeScanningUnavailable,
    DismissReason,
    SarifStatus,
)
from bot.forges.github.client import PER_PAGE, GitHubClient

_NO_PERMISSION = "not accessible by integration"

class GitHubCodeScanning:
    """:class:`bot.forges.code_scanning.CodeScanning` over one repository's client."""

    def __init__(self, client: GitHubClient) -> None:
        self.client = client
        self.gh, self.owner, self.repo = client.gh, client.owner, client.repo

    async def upload_sarif(self, *, commit_sha: str, ref: str, sarif: str) -> str:
        """Upload an analysis (``sarif`` from :func:`encode_sarif`); returns its id.
        Raises CodeScanningUnavailable when GitHub will not take analyses here."""
        try:
            receipt = await self.client.call(
                lambda: self.gh.rest.code_scanning.async_upload_sarif(
                    self.owner, self.repo, commit_sha=commit_sha, ref=ref, sarif=sarif
                ),
                what="uploading the SARIF analysis",
            )
        except ForgeRefused as exc:
            if exc.status == 403:
                raise CodeScanningUnavailable(
                    exc.message, permission=_NO_PERMISSION in exc.message.lower()
                ) from exc
            raise
        except NotFound as exc:
            raise CodeScanningUnavailable(exc.message, permission=False) from exc
        return str(receipt.parsed_data.id)

    async def sarif_status(self, sarif_id: str) -> SarifStatus:
        data = (
            await self.client.call(
                lambda: self.gh.rest.code_scanning.async_get_sarif(
                    self.owner, self.repo, sarif_id
                ),
                what=f"reading the processing status of SARIF {sarif_id}",
            )
        ).parsed_data
        errors = tuple(str(e) for e in (data.errors or []))
        return SarifStatus(str(data.processing_status or "pending"), errors)

    async def code_scanning_alert(self, number: int) -> AlertInfo:
        alert = (
            await self.client.call(
                lambda: self.gh.rest.code_scanning.async_get_alert(self.owner, self.repo, number),
                what=f"reading code scanning alert {number}",
            )
        ).parsed_data
        return _alert_info(alert)

    async def code_scanning_alerts(self, tool_prefix: str) -> list[AlertInfo]:
        """Every alert whose tool name starts with ``tool_prefix`` (all states)."""
        alerts = await self.client.pages(
            lambda page: self.gh.rest.code_scanning.async_list_alerts_for_repo(
                self.owner, self.repo, per_page=PER_PAGE, page=page
            ),
            what="listing the code scanning alerts",
            max_items=50_000,
        )
        found = [_alert_info(a) for a in alerts]
        return [a for a in found if a.tool.startswith(tool_prefix)]

    async def set_alert_state(
        self,
        number: int,
        state: AlertState,
        reason: DismissReason | None = None,
        comment: str | None = None,
    ) -> None:
        """Dismiss (with a reason) or reopen an alert; the comment is cut to GitHub's 280."""
        data: dict[str, Any] = {"state": state}
        if state == "dismissed":
            data["dismissed_reason"] = reason or "false positive"
            if comment:
                data["dismissed_comment"] = comment[:280]
        await self.client.call(
            lambda: self.gh.rest.code_scanning.async_update_alert(
                self.owner, self.repo, number, data=data
            ),
            what=f"setting code scanning alert {number} {state}",
        )


def _alert_info(alert: Any) -> AlertInfo:
    instance = getattr(alert, "most_recent_instance", None)
    location = getattr(instance, "location", None) if instance is not None else None
    tool = getattr(alert, "tool", None)
    rule = getattr(alert, "rule", None)
    return AlertInfo(
        number=int(alert.number),
        state=str(getattr(alert.state, "value", alert.state) or ""),
        tool=str(getattr(tool, "name", "") or ""),
        rule_id=str(getattr(rule, "id", "") or ""),
        path=getattr(location, "path", None) or None,
        start_line=getattr(location, "start_line", None) or None,
        commit_sha=getattr(instance, "commit_sha", None) or None,
    )
