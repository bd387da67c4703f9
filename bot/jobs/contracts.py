"""The jobs the web process enqueues and the worker runs: their names, ids and payloads.

This is the contract between ``bot/events`` (which builds jobs from webhook deliveries) and the
arq functions in ``bot/jobs`` (which run them). Each job is enqueued with arq's default pickle
serializer and exactly one positional argument, the payload as a plain ``dict`` (JSON types
only, so no class path is pickled):

    async def review_pull_request(ctx: dict[str, Any], payload: dict[str, Any]) -> None:
        job = ReviewPullRequest.model_validate(payload)

Job ids: automatic work (a PR opened or pushed, a push to the default branch) has a
deterministic id built from (kind, forge, repository, PR, head SHA) so arq itself refuses a
second copy; work a person asks for (a check run's "Re-run", ``/audit``) carries the delivery id
so it runs even while arq still remembers the earlier job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

Forge = Literal["github", "gitlab"]

REVIEW_PULL_REQUEST: Final = "review_pull_request"
SCAN_PUSH: Final = "scan_push"
RUN_COMMAND: Final = "run_command"
SYNC_INSTALLATION: Final = "sync_installation"
REPLY_IN_THREAD: Final = "reply_in_thread"
CODE_SCANNING_ALERT: Final = "code_scanning_alert"

JobName = Literal[
    "review_pull_request",
    "scan_push",
    "run_command",
    "sync_installation",
    "reply_in_thread",
    "code_scanning_alert",
]

# arq's default queue; the worker must listen on the same one.
QUEUE_NAME: Final = "arq:queue"

CommandName = Literal["review", "full", "cancel", "help", "ask"]
# A person's text carried in a job (a question, a reply): the model reads at most this.
TEXT_LIMIT = 4000


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Repository(_Payload):
    """Where the work happens. ``id`` is GitHub's repository id or GitLab's project id."""

    forge: Forge
    id: int
    full_name: str  # "owner/name"; GitLab: path_with_namespace
    default_branch: str | None = None
    installation_id: int | None = None  # GitHub App installation; None on GitLab
    web_url: str | None = None  # GitLab: the project's page (tells the instance); GitHub: html_url


class RepositoryJob(_Payload):
    """A job about one forge repository, started by one delivery (its id on every log line)."""

    repository: Repository
    delivery_id: str


class ReviewPullRequest(RepositoryJob):
    """Audit a pull request (GitLab: merge request) at ``head_sha``.

    ``number`` is None only for a GitHub check run or suite re-run whose payload names no pull
    request (GitHub leaves ``pull_requests`` empty for PRs from forks): the worker finds the
    open PR whose head is ``head_sha``. The worker skips drafts unless the repository's config
    asks for them and applies ``review.ignore_authors``.
    """

    number: int | None
    head_sha: str
    head_ref: str | None = None
    base_ref: str | None = None
    # The base commit the forge compared against, when the payload names it (GitHub does;
    # GitLab's merge request hook does not): .auditbot.yml is read there.
    base_sha: str | None = None
    author: str | None = None  # the PR author's login
    draft: bool = False
    trigger: str  # "pull_request.opened", "check_run.rerequested", "merge_request.update", ...
    requested_by: str | None = None  # the person who asked for a re-run


class ScanPush(RepositoryJob):
    """Scan the commits pushed to the default branch (``before``..``after``)."""

    ref: str
    before: str
    after: str
    pusher: str | None = None


class PullRequestComment(RepositoryJob):
    """A comment a person wrote on a pull request (merge request): a command or a reply.

    ``pr_author`` is who opened the pull request (GitLab: read by the worker); the worker
    reads the commenter's standing (write access, the author, a bot) from these fields.
    """

    number: int
    comment_id: int
    author: str
    author_id: int | None = None
    pr_author: str | None = None


class RunCommand(PullRequestComment):
    """A command a person wrote in a PR comment (``/audit``, ``/audit full``, ``/audit cancel``,
    ``/audit help``, ``/audit ask <question>``, ``@<app slug> review``).

    The worker checks the author's write access through the forge's permission API (the
    web process only drops what certainly cannot qualify: bots, and on GitHub people whose
    ``author_association`` says they are no collaborator, unless they wrote the PR and ask;
    the PR's author may ask).
    ``head_sha`` is known on GitLab (the MR's last commit); on GitHub the worker reads the PR.
    """

    command: CommandName
    argument: str = ""  # an unknown sub-command's words, or the question of ``ask``
    author_association: str | None = None
    head_sha: str | None = None


class ThreadReply(PullRequestComment):
    """A person answered in a review thread (GitHub: a review comment ``in_reply_to`` another;
    GitLab: a note in a discussion). The worker answers only in threads auditbot started.

    ``thread`` is the thread's first comment id on GitHub, the discussion id on GitLab;
    ``body`` is the reply's text, cut at TEXT_LIMIT.
    """

    thread: str
    body: str


class CodeScanningAlertEvent(RepositoryJob):
    """A code scanning alert changed in GitHub's Security tab (``code_scanning_alert``):
    a dismissal or a reopening by a person reaches auditbot's triage."""

    action: str
    alert_number: int
    state: str | None = None
    dismissed_reason: str | None = None
    dismissed_comment: str | None = None
    tool: str | None = None
    commit_sha: str | None = None
    ref: str | None = None
    sender: str | None = None


class InstallationRepository(_Payload):
    id: int
    full_name: str


class SyncInstallation(_Payload):
    """Bring the installation and project records in step with GitHub.

    ``event`` is "installation" or "installation_repositories"; ``action`` is GitHub's
    (created, deleted, suspend, unsuspend, new_permissions_accepted, added, removed).
    ``repositories`` lists the installation's repositories when GitHub sends them
    (installation created/deleted/new_permissions_accepted); ``added``/``removed`` come with
    installation_repositories.
    """

    forge: Forge = "github"
    event: Literal["installation", "installation_repositories"]
    action: str
    installation_id: int
    account_login: str
    account_id: int
    account_type: str | None = None
    repository_selection: str | None = None
    repositories: list[InstallationRepository] = []
    added: list[InstallationRepository] = []
    removed: list[InstallationRepository] = []
    sender: str | None = None
    delivery_id: str


SCAN_REPOSITORY: Final = "scan_repository"
SCAN_ARCHIVE: Final = "scan_archive"


class ScanRepository(_Payload):
    """Scan a whole project at ``ref``; the worker fills task ``task_id``."""

    task_id: str
    project_id: int
    ref: str
    requested_by: int | None = None  # user id
    retry_of: str | None = None


class ScanArchive(_Payload):
    """Scan the files of an uploaded ZIP saved at ``archive_path`` (under DATA_DIR)."""

    task_id: str
    project_id: int
    archive_path: str
    requested_by: int | None = None
    retry_of: str | None = None


# The API's cancel ends the task in the web process, which has no forge; this job
# concludes its check run on a worker (bot.jobs.lifecycle.cancel_from_web).
CONCLUDE_CHECK: Final = "conclude_check"


class ConcludeCheck(_Payload):
    """Conclude the check run of task ``task_id``, which has ended, as its row records."""

    task_id: str


JobPayload = (
    ReviewPullRequest
    | ScanPush
    | RunCommand
    | SyncInstallation
    | ThreadReply
    | CodeScanningAlertEvent
)

PAYLOAD_MODELS: Final[dict[str, type[JobPayload]]] = {
    REVIEW_PULL_REQUEST: ReviewPullRequest,
    SCAN_PUSH: ScanPush,
    RUN_COMMAND: RunCommand,
    SYNC_INSTALLATION: SyncInstallation,
    REPLY_IN_THREAD: ThreadReply,
    CODE_SCANNING_ALERT: CodeScanningAlertEvent,
}


@dataclass(frozen=True, slots=True)
class JobRequest:
    """One job to enqueue: arq function name, arq job id, payload."""

    name: JobName
    job_id: str
    payload: JobPayload

    def args(self) -> tuple[dict[str, Any]]:
        """The positional arguments arq passes to the function after ``ctx``."""
        return (self.payload.model_dump(mode="json"),)


def load_payload(name: str, data: dict[str, Any]) -> JobPayload:
    """The worker side: validate the payload of job ``name`` (raises pydantic's error)."""
    return PAYLOAD_MODELS[name].model_validate(data)


def automatic_job_id(
    name: JobName,
    forge: Forge,
    repository_id: int,
    number: int | None,
    sha: str,
    *,
    variant: str | None = None,
) -> str:
    """Same work, same id: arq refuses a second job with it while the first is known.

    ``variant`` tells apart work that differs for the same SHA (a draft, then the same commit
    marked ready for review).
    """
    job_id = f"{name}:{forge}:{repository_id}:{'-' if number is None else number}:{sha}"
    return f"{job_id}:{variant}" if variant else job_id


def requested_job_id(
    name: JobName, forge: Forge, repository_id: int, number: int | None, delivery_id: str
) -> str:
    """A person asked again: a new delivery means a new job even for the same SHA."""
    return f"{name}:{forge}:{repository_id}:{'-' if number is None else number}:d={delivery_id}"


# The GitHub App's slug when APP_SLUG is unset: the worker writes it here after reading the
# app's own record (GET /app); the web process reads it for `@<slug> review` and to ignore
# its own bot's events.
APP_SLUG_KEY: Final = "auditbot:github:app-slug"
# Hash of GitLab project path -> why GitLab disabled its webhook, as the reconciler's last
# look found (bot.jobs.gitlab_hooks); `/readyz` names them and `/metrics` counts them.
GITLAB_DISABLED_HOOKS_KEY: Final = "auditbot:gitlab:disabled-hooks"
