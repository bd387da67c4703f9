"""`/audit ask <question>`: one answer comment about the pull request.

The model sees what a review of the change would send it (the same file filters, the same
chunks, secrets masked per block, the code framed as untrusted data) and, first, the lines
the question names. A question that would need more than ASK_CONTEXT_TOKENS gets a partial
answer that says what was left out. Write access or the pull request's authorship is needed
to ask, questions are rate limited per person, and the answer is posted once even when the
job runs again or twice at once (``bot.jobs.conversation.once``).
"""

from __future__ import annotations

import asyncio
import logging

from bot.analysis.llm_review import LLMReviewer
from bot.analysis.pipeline import ReviewPipeline
from bot.analysis.repo_config import load_repo_config
from bot.analysis.sanitize import sanitize_text
from bot.analysis.secrets import mask_secrets
from bot.forges.base import ChangeTarget
from bot.forges.pull_requests import PullRequestForge
from bot.jobs.contracts import RunCommand
from bot.jobs.conversation.access import may_ask, standing
from bot.jobs.conversation.context import QuestionContext, gather
from bot.jobs.conversation.model import ModelAnswer, ask_model
from bot.jobs.conversation.once import post_answer
from bot.jobs.conversation.prompts import ask_prompt
from bot.jobs.deps import JobDeps, project_for

log = logging.getLogger(__name__)

# The most context a question gets, whatever the model's window (cost stays small).
ASK_CONTEXT_TOKENS = 16_000
# Kept free in the window for the instructions, the question and the answer.
RESERVE_TOKENS = 3_000
QUOTE_CHARS = 300


async def answer_question(deps: JobDeps, forge: PullRequestForge, job: RunCommand) -> str:
    """Answer ``job``'s question in one comment; returns what happened, for the job's log."""
    talk = forge.conversation
    target = ChangeTarget(number=job.number)
    repo = job.repository
    who = await standing(deps.redis, talk, job)
    if not who.may_talk:
        log.info("question from %s ignored: %s", job.author, who.value)
        return "ignored"
    async def say(text: str) -> None:
        await post_answer(deps.redis, talk, job, text)

    if not await may_ask(deps.redis, forge_name=repo.forge, login=job.author,
                         per_hour=deps.settings.conversation_per_hour, say=say):
        return "limited"
    project_id = await project_for(deps, repo)
    change = await forge.fetch_change(target)
    config, _ = load_repo_config(
        await forge.read_repo_config(change.base_sha),
        allowed_models=deps.settings.allowed_models,
    )
    if not config.enabled:
        return "disabled"
    question, _ = mask_secrets(job.argument)
    context = QuestionContext()
    skipped: list[tuple[str, str]] = []
    if deps.llm is not None:
        diffs, contents, skipped = await ReviewPipeline(forge).prepare(change, config)
        reviewer = LLMReviewer(deps.llm, project_id=project_id)
        chunks = await asyncio.to_thread(reviewer.chunks, diffs, contents)
        window = int(deps.llm.context_window) - RESERVE_TOKENS
        context = await gather(
            forge, head_sha=change.head_sha, question=question, chunks=chunks,
            contents=contents, config=config, budget_tokens=max(1_000, min(ASK_CONTEXT_TOKENS,
                                                                             window)),
            model=deps.llm.model,
        )
    answer = await ask_model(
        deps, project_id, f"ask:{job.delivery_id}",
        ask_prompt(question, context.blocks, context.left_out),
    )
    body = render_answer(job.author, question, answer, context, change.head_sha, skipped)
    posted = await post_answer(deps.redis, talk, job, body)
    log.info("question of %s answered (%s, %d blocks, %d left out)", job.author,
             "posted" if posted else "already posted", len(context.blocks),
             len(context.left_out))
    return "answered" if answer.answered else "not answered"


def render_answer(
    author: str,
    question: str,
    answer: ModelAnswer,
    context: QuestionContext,
    head_sha: str,
    skipped: list[tuple[str, str]],
) -> str:
    quoted = sanitize_text(" ".join(question.split()), limit=QUOTE_CHARS)
    parts = [f"> **{sanitize_text(author, limit=100)} asked:** {quoted}", "", answer.text]
    notes: list[str] = []
    if answer.answered and context.left_out:
        shown = ", ".join(f"`{p}`" for p in context.left_out[:8])
        more = f" and {len(context.left_out) - 8} more" if len(context.left_out) > 8 else ""
        notes.append(
            f"**Partial answer:** a question's context holds at most {context.budget_tokens:,} "
            f"tokens; the model did not see {shown}{more}. Ask about those files by name."
        )
    if answer.answered and skipped:
        notes.append(f"{len(skipped)} changed file(s) are not reviewed (filters, binary, size) "
                     "and were not shown.")
    if answer.answered:
        notes.append(
            f"Answered by {answer.model} from the code at `{head_sha[:12]}`"
            f" (${answer.cost_usd:.4f}). An answer changes nothing: to dismiss a finding, a "
            "maintainer replies `false positive` or `won't fix` in its thread."
        )
    if notes:
        parts += ["", "---", *(f"<sub>{note}</sub>" for note in notes)]
    return "\n".join(parts)
