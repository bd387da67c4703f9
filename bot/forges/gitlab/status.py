"""The body of a GitLab commit status for one step of the check lifecycle, and the id
auditbot keeps to update it (docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.forges import limits
from bot.forges.base import CHECK_NAME, CheckUpdate

# GitLab has no neutral state; a neutral or skipped audit that found nothing at or above
# fail_on is a success whose description says what was left out.
_CONCLUSION_STATE = {
    "success": "success",
    "neutral": "success",
    "skipped": "success",
    "failure": "failed",
    "timed_out": "failed",
    "action_required": "failed",
    "cancelled": "canceled",
}


@dataclass(frozen=True)
class StatusTarget:
    """Where the status goes: the project holding the commit (an MR's source project), the
    commit, and the MR's branch and head pipeline when there are any."""

    project: str
    sha: str
    ref: str = ""
    pipeline: str = ""

    def encode(self) -> str:
        return "|".join((self.project, self.sha, self.ref, self.pipeline))

    @classmethod
    def decode(cls, check_id: str) -> StatusTarget:
        project, sha, ref, pipeline = check_id.split("|")
        return cls(project, sha, ref, pipeline)


def state_of(update: CheckUpdate) -> str:
    if update.status == "queued":
        return "pending"
    if update.status == "in_progress":
        return "running"
    return _CONCLUSION_STATE.get(update.conclusion or "neutral", "success")


def status_payload(target: StatusTarget, update: CheckUpdate) -> dict[str, Any]:
    data: dict[str, Any] = {
        "state": state_of(update),
        "name": CHECK_NAME,
        "description": (update.title or update.summary)[: limits.GITLAB_STATUS_DESCRIPTION_MAX],
    }
    if target.ref:
        data["ref"] = target.ref
    if target.pipeline:
        data["pipeline_id"] = int(target.pipeline)
    if update.details_url:
        data["target_url"] = update.details_url
    return data
