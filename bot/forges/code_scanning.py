"""Code scanning as auditbot uses it, forge-neutral: the plain data of an uploaded analysis
and of an alert, and the calls the jobs need (:class:`CodeScanning`). GitHub implements it
(``github/code_scanning.py``); a forge without it has ``code_scanning = None``.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.errors import ForgeError

# "SARIF upload supports a maximum of 10 MB" after gzip (docs.github.com/code-security/
# code-scanning/troubleshooting-sarif-uploads/file-too-large).
SARIF_MAX_BYTES = 10 * 1024 * 1024

AlertState = Literal["open", "dismissed"]
DismissReason = Literal["false positive", "won't fix", "used in tests", "mitigated"]


class CodeScanningUnavailable(ForgeError):
    """GitHub refused code scanning for the repository; ``permission`` is True when the
    App lacks ``security_events`` (the operator did not choose code scanning), False when
    the repository cannot use it (no Advanced Security, archived, disabled)."""

    def __init__(self, message: str, *, permission: bool) -> None:
        super().__init__(message)
        self.permission = permission


@dataclass(frozen=True)
class SarifStatus:
    status: str  # pending | complete | failed
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertInfo:
    """One code scanning alert, reduced to what auditbot matches and changes."""

    number: int
    state: str  # open | dismissed | fixed
    tool: str
    rule_id: str
    path: str | None
    start_line: int | None
    commit_sha: str | None


def encode_sarif(log: dict[str, Any]) -> str:
    """gzip, then base64, as the upload wants it."""
    raw = json.dumps(log, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode()


class CodeScanning(Protocol):
    """Upload an analysis as SARIF, follow its processing, read and set alerts' states."""

    async def upload_sarif(self, *, commit_sha: str, ref: str, sarif: str) -> str:
        """Upload an analysis (``sarif`` from :func:`encode_sarif`); returns its id.
        Raises CodeScanningUnavailable when the forge will not take analyses here."""
        ...

    async def sarif_status(self, sarif_id: str) -> SarifStatus: ...

    async def code_scanning_alert(self, number: int) -> AlertInfo: ...

    async def code_scanning_alerts(self, tool_prefix: str) -> list[AlertInfo]:
        """Every alert whose tool name starts with ``tool_prefix`` (all states)."""
        ...

    async def set_alert_state(
        self,
        number: int,
        state: AlertState,
        reason: DismissReason | None = None,
        comment: str | None = None,
    ) -> None:
        """Dismiss (with a reason) or reopen an alert."""
        ...
