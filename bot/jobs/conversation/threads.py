"""Replies in auditbot's review threads (GitHub review-comment replies, GitLab discussion
notes), answered in the thread.

- "false positive" or "won't fix" on a reply's first line (a reason may follow) dismisses
  the finding through ``bot.store.triage`` at once and is acknowledged in the thread; the
  fingerprint then stays silent in later runs of the whole repository until the code at
  that place changes (the fingerprint is path, rule and code). Only people with write
  access dismiss; anyone else gets a polite answer and nothing changes.
- A question or a dispute (a "?", "why", "not a bug", a mention of the app...) from someone
  with write access or the pull request's author is answered by the model, from the finding,
  the code around it and the thread, all framed as untrusted data.
- Anything else ("thanks", "fixed") gets no answer. Bots are never answered.

Which state a reply sets is read by fixed rules (``bot.forges.feedback.read_dismissal``),
never by the model: a reply that talks the model into anything changes no state and no
check's conclusion.
"""

from __future__ import annotations

import logging
import re

from bot.analysis.sanitize import sanitize_text
from bot.analysis.secrets import mask_secrets
from bot.diff.context import printable, split_content
from bot.diff.parse import decode
from bot.errors import NotFound
from bot.findings import FindingStatus
from bot.forges.base import COMMENT_MARKER_PREFIX, ChangeSource, ChangeTarget
from bot.forges.conversation import Conversation, FindingThread, answer_marker
from bot.forges.feedback import Dismissal, read_dismissal
from bot.forges.pull_requests import PullRequestForge
from bot.jobs.contracts import ThreadReply
from bot.jobs.conversation.access import Standing, may_ask, standing
from bot.jobs.conversation.model import ask_model
from bot.jobs.conversation.once import reply_once
from bot.jobs.conversation.prompts import thread_prompt
from bot.jobs.deps import JobDeps, project_for
from bot.store.triage import TriageSource, triage_fingerprint_in

log = logging.getLogger(__name__)

CODE_AROUND_LINES = 12
# What makes a reply worth an answer: a question, or words that dispute the finding.
_TALK = re.compile(
    r"\?|^\s*(?:why|how|what|where|when|which|could|would|should|can|does|do|is|are)\b"
    r"|\b(?:not (?:a |an )?(?:bug|issue|problem|vulnerab\w*|exploitable|reachable|true|"
    r"correct|right|relevant)|isn't|is not|are not|aren't|wrong|incorrect|disagree|explain|"
    r"are you sure|false alarm|safe)\b",
    re.IGNORECASE | re.MULTILINE,
)
_LABELS = {FindingStatus.FALSE_POSITIVE: "false positive", FindingStatus.WONT_FIX: "won't fix"}


async def answer_reply(deps: JobDeps, forge: PullRequestForge, job: ThreadReply) -> str:
    """Handle one reply in a thread; returns what happened, for the job's log."""
    talk = forge.conversation
    target = ChangeTarget(number=job.number)
    if await talk.is_self(job.author, job.author_id):
        return "ours"
    thread = await talk.finding_thread(target, job.thread)
    if thread is None:
        return "not our thread"
    marker = answer_marker(job.comment_id)
    if any(r.ours and marker in r.body for r in thread.replies):
        return "already answered"  # a retried job
    dismissal = read_dismissal(job.body)
    if dismissal is None and not wants_an_answer(job.body, deps.settings.app_slug):
        return "nothing to answer"
    repo = job.repository
    who = await standing(deps.redis, talk, job)
    if who is Standing.BOT:
        return "ignored"
    if dismissal is not None:
        if not who.may_decide:
            await reply_once(deps.redis, talk, job, thread.id, refusal(job.author))
            return "refused"
        return await _dismiss(deps, talk, thread, job, dismissal)
    if not who.may_talk:
        return "ignored"
    async def say(text: str) -> None:
        await reply_once(deps.redis, talk, job, thread.id, text)

    if not await may_ask(deps.redis, forge_name=repo.forge, login=job.author,
                         per_hour=deps.settings.conversation_per_hour, say=say):
        return "limited"
    project_id = await project_for(deps, repo)
    question, _ = mask_secrets(job.body)
    user = thread_prompt(
        finding=_finding_text(thread.first_body),
        code=await _code_around(forge, thread),
        replies=[r for r in thread.replies if marker not in r.body],
        question=question,
    )
    answer = await ask_model(deps, project_id, f"reply:{job.delivery_id}", user)
    footer = (
        f"\n\n<sub>Answered by {answer.model}. An answer changes nothing: to dismiss this "
        "finding, a maintainer replies `false positive` or `won't fix`.</sub>"
        if answer.answered else ""
    )
    if not await reply_once(deps.redis, talk, job, thread.id, f"{answer.text}{footer}"):
        return "already answered"  # another run of this job, at the same time
    return "answered" if answer.answered else "not answered"


def wants_an_answer(body: str, app_slug: str | None) -> bool:
    """A question, a dispute, or a mention of the app."""
    if app_slug and f"@{app_slug.lower()}" in body.lower():
        return True
    return _TALK.search(body) is not None


def refusal(author: str) -> str:
    return (
        f"Thanks, {sanitize_text(author, limit=100)}. Only people with write access to this "
        "repository can dismiss a finding, so nothing changed. A maintainer can reply "
        "`false positive` or `won't fix` (with a reason) here."
    )


async def _dismiss(
    deps: JobDeps,
    talk: Conversation,
    thread: FindingThread,
    job: ThreadReply,
    dismissal: Dismissal,
) -> str:
    label = _LABELS[dismissal.state]
    place = "merge request" if job.repository.forge == "gitlab" else "pull request"
    project_id = await project_for(deps, job.repository)
    try:
        result = await triage_fingerprint_in(
            deps.sessions, project_id, thread.key, dismissal.state, actor=job.author,
            reason=dismissal.reason or f"marked {label} in the {place}",
            source=TriageSource(job.repository.forge),
            learn=dismissal.reason is not None,
        )
    except NotFound:
        await reply_once(deps.redis, talk, job, thread.id, (
            "auditbot has no record of this finding in this repository, so nothing changed."))
        return "unknown finding"
    who = sanitize_text(job.author, limit=100)
    if not result.changed:
        body = f"This finding is already marked **{label}**; nothing changed."
    else:
        body = (
            f"Marked as **{label}** by {who}. auditbot will not report it again in this "
            "repository, in this or later pull requests, unless the code at this place "
            "changes."
        )
        if dismissal.reason:
            body += f"\n\nReason noted: {sanitize_text(dismissal.reason, limit=500)}"
    await reply_once(deps.redis, talk, job, thread.id, body)
    log.info("finding %s marked %s by %s in the thread", thread.key[:12], label, job.author)
    return "dismissed" if result.changed else "already dismissed"


def _finding_text(first_body: str) -> str:
    """Our comment without its hidden marker."""
    lines = [ln for ln in first_body.splitlines() if COMMENT_MARKER_PREFIX not in ln]
    return "\n".join(lines).strip()[:3000]


async def _code_around(forge: ChangeSource, thread: FindingThread) -> str | None:
    if not thread.path or not thread.commit or not thread.line:
        return None
    data = await forge.read_file(thread.path, thread.commit)
    lines = split_content(decode(data)) if data is not None else None
    if not lines:
        return None
    first = max(1, thread.line - CODE_AROUND_LINES)
    last = min(len(lines), thread.line + CODE_AROUND_LINES)
    text = "\n".join(f"{n:>6}  {lines[n - 1]}" for n in range(first, last + 1))
    masked, _ = mask_secrets(f"### File: {printable(thread.path)} (lines {first}-{last})\n{text}")
    return masked
