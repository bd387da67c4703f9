"""The parts of GitHub webhook payloads the handlers read, as pydantic models.

Only the fields we use are declared (unknown keys are ignored), so validation is cheap and a
payload missing what its event promises fails with the field's path.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Account(_Model):
    login: str | None = None
    slug: str | None = None  # enterprise accounts have a slug and a name, not a login
    name: str | None = None
    id: int
    type: str | None = None

    @property
    def name_or_id(self) -> str:
        return self.login or self.slug or self.name or str(self.id)


class User(_Model):
    login: str
    id: int | None = None
    type: str | None = None


class Installation(_Model):
    id: int


class InstallationFull(_Model):
    id: int
    account: Account
    repository_selection: str | None = None


class Repo(_Model):
    id: int
    full_name: str
    default_branch: str | None = None
    html_url: str | None = None


class RepoSummary(_Model):
    id: int
    full_name: str


class Ref(_Model):
    ref: str
    sha: str


class GitHubEvent(_Model):
    """What every event the handlers read has: the action, who sent it, the installation."""

    action: str | None = None
    installation: Installation | None = None
    sender: User | None = None

    @property
    def installation_id(self) -> int | None:
        return self.installation.id if self.installation else None

    @property
    def sender_login(self) -> str | None:
        return self.sender.login if self.sender else None


class PullRequest(_Model):
    number: int
    state: str
    draft: bool | None = False
    head: Ref
    base: Ref
    user: User | None = None


class PullRequestEvent(GitHubEvent):
    pull_request: PullRequest
    repository: Repo


class Pusher(_Model):
    name: str | None = None


class PushEvent(GitHubEvent):
    ref: str
    before: str
    after: str
    deleted: bool = False
    repository: Repo
    pusher: Pusher | None = None


class CheckPullRequest(_Model):
    number: int
    head: Ref
    base: Ref


class CheckRun(_Model):
    head_sha: str
    pull_requests: list[CheckPullRequest] = []


class CheckRunEvent(GitHubEvent):
    check_run: CheckRun
    repository: Repo


class CheckSuite(_Model):
    head_sha: str
    pull_requests: list[CheckPullRequest] = []


class CheckSuiteEvent(GitHubEvent):
    check_suite: CheckSuite
    repository: Repo


class Issue(_Model):
    number: int
    pull_request: dict[str, object] | None = None  # present only on pull requests
    user: User | None = None  # who opened the issue (pull request)


class Comment(_Model):
    id: int
    body: str | None = None
    user: User
    author_association: str


class IssueCommentEvent(GitHubEvent):
    issue: Issue
    comment: Comment
    repository: Repo


class ReviewComment(_Model):
    id: int
    body: str | None = None
    user: User
    in_reply_to_id: int | None = None  # set on replies in a review thread only


class ReviewCommentPullRequest(_Model):
    number: int
    state: str | None = None
    user: User | None = None


class ReviewCommentEvent(GitHubEvent):
    comment: ReviewComment
    pull_request: ReviewCommentPullRequest
    repository: Repo


class AlertTool(_Model):
    name: str | None = None


class AlertInstance(_Model):
    ref: str | None = None
    commit_sha: str | None = None


class Alert(_Model):
    number: int
    state: str | None = None
    dismissed_reason: str | None = None
    dismissed_comment: str | None = None
    tool: AlertTool | None = None
    most_recent_instance: AlertInstance | None = None


class CodeScanningAlertEvent(GitHubEvent):
    alert: Alert
    ref: str | None = None
    commit_oid: str | None = None
    repository: Repo


class InstallationEvent(GitHubEvent):
    installation: InstallationFull  # type: ignore[assignment]
    repositories: list[RepoSummary] | None = None


class InstallationRepositoriesEvent(GitHubEvent):
    installation: InstallationFull  # type: ignore[assignment]
    repository_selection: str | None = None
    repositories_added: list[RepoSummary] = []
    repositories_removed: list[RepoSummary] = []
