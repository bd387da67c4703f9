"""The parts of GitLab webhook payloads the handlers read, as pydantic models.

Only the fields we use are declared (unknown keys are ignored); GitLab's documentation marks
several of them optional across versions (``action`` on notes before 16.11, ``draft`` before
``work_in_progress`` was retired), so those have defaults.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class GitLabEvent(_Model):
    """What every hook body the handlers read has: the kind it claims to be."""

    object_kind: str | None = None

    @property
    def action(self) -> str | None:
        attributes = getattr(self, "object_attributes", None)
        action = getattr(attributes, "action", None)
        return action if isinstance(action, str) else None


class Project(_Model):
    id: int
    path_with_namespace: str
    default_branch: str | None = None
    web_url: str | None = None


class User(_Model):
    username: str
    id: int | None = None


class Commit(_Model):
    id: str


class MergeRequestAttributes(_Model):
    iid: int
    action: str | None = None
    state: str
    oldrev: str | None = None
    source_branch: str | None = None
    target_branch: str | None = None
    draft: bool | None = None
    work_in_progress: bool | None = None
    last_commit: Commit


class MergeRequestEvent(GitLabEvent):
    object_attributes: MergeRequestAttributes
    project: Project
    user: User | None = None


class PushEvent(GitLabEvent):
    ref: str
    before: str
    after: str
    user_username: str | None = None
    project: Project


class NoteAttributes(_Model):
    id: int
    note: str | None = None
    noteable_type: str
    action: str | None = None
    system: bool | None = False
    # A note in a thread: DiffNote (on the diff) or DiscussionNote; None for a plain comment.
    type: str | None = None
    discussion_id: str | None = None


class NoteMergeRequest(_Model):
    iid: int
    state: str | None = None
    last_commit: Commit | None = None


class NoteEvent(GitLabEvent):
    object_attributes: NoteAttributes
    project: Project
    user: User
    merge_request: NoteMergeRequest | None = None
