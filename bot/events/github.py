"""GitHub deliveries to jobs: pure handlers registered on :data:`github`.

Each event's handlers read one model (``bot/events/github_models.py``) declaring only the
fields they use, into which the web process validates the body, so a payload of the wrong
shape for its event is a 400, and the web process never needs the database or GitHub's API:
draft and author filters, permission checks and installation records are the worker's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from bot.events.commands import parse_command
from bot.events.github_models import (
    CheckPullRequest,
    CheckRunEvent,
    CheckSuiteEvent,
    CodeScanningAlertEvent,
    GitHubEvent,
    InstallationEvent,
    InstallationRepositoriesEvent,
    IssueCommentEvent,
    PullRequestEvent,
    PushEvent,
    Repo,
    RepoSummary,
    ReviewCommentEvent,
    User,
)
from bot.events.registry import Delivery, Registry
from bot.forges.base import ZERO_SHA
from bot.jobs.contracts import (
    CODE_SCANNING_ALERT,
    REPLY_IN_THREAD,
    REVIEW_PULL_REQUEST,
    RUN_COMMAND,
    SCAN_PUSH,
    SYNC_INSTALLATION,
    TEXT_LIMIT,
    InstallationRepository,
    JobRequest,
    Repository,
    ReviewPullRequest,
    RunCommand,
    ScanPush,
    SyncInstallation,
    ThreadReply,
    automatic_job_id,
    requested_job_id,
)
from bot.jobs.contracts import CodeScanningAlertEvent as CodeScanningAlertJob

github = Registry("github")

# Who may have write access: the worker confirms it through the permission API; anyone else
# (CONTRIBUTOR, NONE, ...) is ignored without an answer, unless they wrote the PR and ask.
TRUSTED_ASSOCIATIONS: Final = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
# A person's dismissal or reopening of an alert in the Security tab reaches auditbot's triage.
ALERT_ACTIONS: Final = ("closed_by_user", "reopened_by_user")
# The tool names of auditbot's SARIF runs begin with this (bot/reports/code_scanning.py).
TOOL_PREFIX: Final = "auditbot"
REVIEW_ACTIONS: Final = ("opened", "reopened", "synchronize", "ready_for_review")
INSTALLATION_ACTIONS: Final = (
    "created",
    "deleted",
    "suspend",
    "unsuspend",
    "new_permissions_accepted",
)


def caused_by_app(event: GitHubEvent, app_slug: str | None) -> bool:
    """True when our own app sent the event (its comments, check runs...): no loops."""
    sender = event.sender
    return (
        bool(app_slug)
        and sender is not None
        and sender.type == "Bot"
        and sender.login == f"{app_slug}[bot]"
    )


def parse(event: str, body: bytes) -> GitHubEvent | None:
    """A verified delivery's body as its event's model (see ``Registry.parse``)."""
    return cast("GitHubEvent | None", github.parse(event, body))


def jobs_for(delivery: Delivery, payload: Mapping[str, Any] | GitHubEvent) -> list[JobRequest]:
    """Every job a verified GitHub delivery asks for; [] when it needs no work."""
    event = cast("GitHubEvent | None", github.validate(delivery.event, payload))
    if event is None or caused_by_app(event, delivery.app_slug):
        return []
    return github.route(delivery, event)


def _repository(repo: Repo, installation_id: int | None) -> Repository:
    return Repository(
        forge="github",
        id=repo.id,
        full_name=repo.full_name,
        default_branch=repo.default_branch,
        installation_id=installation_id,
        web_url=repo.html_url,
    )


@github.on(*(f"pull_request.{action}" for action in REVIEW_ACTIONS), model=PullRequestEvent)
def review_pull_request(delivery: Delivery, event: PullRequestEvent) -> list[JobRequest]:
    pr = event.pull_request
    if pr.state != "open":
        return []  # closed PRs are never reviewed
    repository = _repository(event.repository, event.installation_id)
    # A draft and the same SHA made ready are different work: the worker skips the first.
    job_id = automatic_job_id(
        REVIEW_PULL_REQUEST,
        "github",
        repository.id,
        pr.number,
        pr.head.sha,
        variant="draft" if pr.draft else None,
    )
    job = ReviewPullRequest(
        repository=repository,
        number=pr.number,
        head_sha=pr.head.sha,
        head_ref=pr.head.ref,
        base_ref=pr.base.ref,
        base_sha=pr.base.sha,
        author=pr.user.login if pr.user else None,
        draft=bool(pr.draft),
        trigger=f"pull_request.{delivery.action}",
        delivery_id=delivery.delivery_id,
    )
    return [JobRequest(REVIEW_PULL_REQUEST, job_id, job)]


@github.on("push", model=PushEvent)
def scan_push(delivery: Delivery, event: PushEvent) -> list[JobRequest]:
    default = event.repository.default_branch
    if event.deleted or event.after == ZERO_SHA or not default:
        return []
    if event.ref != f"refs/heads/{default}":
        return []  # other branches are reviewed through their pull requests; tags not at all
    repository = _repository(event.repository, event.installation_id)
    job = ScanPush(
        repository=repository,
        ref=event.ref,
        before=event.before,
        after=event.after,
        pusher=event.pusher.name if event.pusher else None,
        delivery_id=delivery.delivery_id,
    )
    job_id = automatic_job_id(SCAN_PUSH, "github", repository.id, None, event.after)
    return [JobRequest(SCAN_PUSH, job_id, job)]


@github.on("check_run.rerequested", model=CheckRunEvent)
def rerun_check_run(delivery: Delivery, event: CheckRunEvent) -> list[JobRequest]:
    return _rerun(
        delivery,
        event.repository,
        event.installation_id,
        event.check_run.head_sha,
        event.check_run.pull_requests,
        event.sender_login,
    )


@github.on("check_suite.rerequested", model=CheckSuiteEvent)
def rerun_check_suite(delivery: Delivery, event: CheckSuiteEvent) -> list[JobRequest]:
    return _rerun(
        delivery,
        event.repository,
        event.installation_id,
        event.check_suite.head_sha,
        event.check_suite.pull_requests,
        event.sender_login,
    )


def _rerun(
    delivery: Delivery,
    repo: Repo,
    installation_id: int | None,
    head_sha: str,
    pull_requests: Sequence[CheckPullRequest],
    sender: str | None,
) -> list[JobRequest]:
    repository = _repository(repo, installation_id)
    trigger = f"{delivery.event}.{delivery.action}"
    # GitHub lists no pull request for a PR from a fork: the worker finds it by head SHA.
    targets: list[CheckPullRequest | None] = list(pull_requests) or [None]
    jobs = []
    for pr in targets:
        number = pr.number if pr else None
        job = ReviewPullRequest(
            repository=repository,
            number=number,
            head_sha=head_sha,
            head_ref=pr.head.ref if pr else None,
            base_ref=pr.base.ref if pr else None,
            base_sha=pr.base.sha if pr else None,
            trigger=trigger,
            requested_by=sender,
            delivery_id=delivery.delivery_id,
        )
        job_id = requested_job_id(
            REVIEW_PULL_REQUEST, "github", repository.id, number, delivery.delivery_id
        )
        jobs.append(JobRequest(REVIEW_PULL_REQUEST, job_id, job))
    return jobs


def _is_bot(user: User | None) -> bool:
    """Bots (ours included) never talk to auditbot: no loops, no bot-to-bot chatter."""
    return user is None or user.type == "Bot" or user.login.endswith("[bot]")


@github.on("issue_comment.created", model=IssueCommentEvent)
def comment_command(delivery: Delivery, event: IssueCommentEvent) -> list[JobRequest]:
    comment = event.comment
    if event.issue.pull_request is None or _is_bot(comment.user):
        return []  # a comment on an issue, not on a pull request; or a bot's
    command = parse_command(comment.body, delivery.app_slug)
    if command is None:
        return []
    pr_author = event.issue.user.login if event.issue.user else None
    asks_own_pr = command.name == "ask" and pr_author == comment.user.login
    if comment.author_association not in TRUSTED_ASSOCIATIONS and not asks_own_pr:
        return []
    repository = _repository(event.repository, event.installation_id)
    job = RunCommand(
        repository=repository,
        number=event.issue.number,
        command=command.name,
        argument=command.argument,
        author=comment.user.login,
        author_id=comment.user.id,
        author_association=comment.author_association,
        pr_author=pr_author,
        comment_id=comment.id,
        delivery_id=delivery.delivery_id,
    )
    job_id = requested_job_id(
        RUN_COMMAND, "github", repository.id, event.issue.number, delivery.delivery_id
    )
    return [JobRequest(RUN_COMMAND, job_id, job)]


@github.on("pull_request_review_comment.created", model=ReviewCommentEvent)
def thread_reply(delivery: Delivery, event: ReviewCommentEvent) -> list[JobRequest]:
    """A reply in a review thread; the worker answers only in auditbot's own threads."""
    comment = event.comment
    if comment.in_reply_to_id is None or _is_bot(comment.user) or not (comment.body or "").strip():
        return []  # a new thread, a bot's reply, or nothing to read
    pull = event.pull_request
    repository = _repository(event.repository, event.installation_id)
    job = ThreadReply(
        repository=repository,
        number=pull.number,
        thread=str(comment.in_reply_to_id),
        comment_id=comment.id,
        body=(comment.body or "")[:TEXT_LIMIT],
        author=comment.user.login,
        author_id=comment.user.id,
        pr_author=pull.user.login if pull.user else None,
        delivery_id=delivery.delivery_id,
    )
    job_id = requested_job_id(
        REPLY_IN_THREAD, "github", repository.id, pull.number, delivery.delivery_id
    )
    return [JobRequest(REPLY_IN_THREAD, job_id, job)]


@github.on(*(f"code_scanning_alert.{action}" for action in ALERT_ACTIONS),
           model=CodeScanningAlertEvent)
def code_scanning_alert(delivery: Delivery, event: CodeScanningAlertEvent) -> list[JobRequest]:
    """A person dismissed or reopened one of auditbot's alerts in the Security tab."""
    alert = event.alert
    tool = (alert.tool.name if alert.tool else None) or ""
    if not tool.startswith(TOOL_PREFIX) or _is_bot(event.sender):
        return []  # another tool's alert, or our own PATCH coming back
    instance = alert.most_recent_instance
    repository = _repository(event.repository, event.installation_id)
    job = CodeScanningAlertJob(
        repository=repository,
        action=delivery.action or "",
        alert_number=alert.number,
        state=alert.state,
        dismissed_reason=alert.dismissed_reason,
        dismissed_comment=(alert.dismissed_comment or "")[:TEXT_LIMIT] or None,
        tool=tool,
        commit_sha=event.commit_oid or (instance.commit_sha if instance else None),
        ref=event.ref or (instance.ref if instance else None),
        sender=event.sender_login,
        delivery_id=delivery.delivery_id,
    )
    job_id = requested_job_id(
        CODE_SCANNING_ALERT, "github", repository.id, None, delivery.delivery_id
    )
    return [JobRequest(CODE_SCANNING_ALERT, job_id, job)]


@github.on(*(f"installation.{action}" for action in INSTALLATION_ACTIONS), model=InstallationEvent)
def sync_installation(delivery: Delivery, event: InstallationEvent) -> list[JobRequest]:
    installation = event.installation
    job = SyncInstallation(
        event="installation",
        action=delivery.action or "",
        installation_id=installation.id,
        account_login=installation.account.name_or_id,
        account_id=installation.account.id,
        account_type=installation.account.type,
        repository_selection=installation.repository_selection,
        repositories=_summaries(event.repositories or []),
        sender=event.sender_login,
        delivery_id=delivery.delivery_id,
    )
    return [_sync_job(installation.id, delivery, job)]


@github.on(
    "installation_repositories.added",
    "installation_repositories.removed",
    model=InstallationRepositoriesEvent,
)
def sync_installation_repositories(
    delivery: Delivery, event: InstallationRepositoriesEvent
) -> list[JobRequest]:
    installation = event.installation
    job = SyncInstallation(
        event="installation_repositories",
        action=delivery.action or "",
        installation_id=installation.id,
        account_login=installation.account.name_or_id,
        account_id=installation.account.id,
        account_type=installation.account.type,
        repository_selection=event.repository_selection or installation.repository_selection,
        added=_summaries(event.repositories_added),
        removed=_summaries(event.repositories_removed),
        sender=event.sender_login,
        delivery_id=delivery.delivery_id,
    )
    return [_sync_job(installation.id, delivery, job)]


def _sync_job(installation_id: int, delivery: Delivery, job: SyncInstallation) -> JobRequest:
    # Each installation change is its own work; the delivery id keeps retries to one job.
    job_id = requested_job_id(
        SYNC_INSTALLATION, "github", installation_id, None, delivery.delivery_id
    )
    return JobRequest(SYNC_INSTALLATION, job_id, job)


def _summaries(repos: Sequence[RepoSummary]) -> list[InstallationRepository]:
    return [InstallationRepository(id=repo.id, full_name=repo.full_name) for repo in repos]
