"""One model call for a conversation: counted against the project's and installation's
budgets like an audit's calls, its text sanitised like every model text auditbot posts, and
every way it can fail turned into a sentence for the person who asked."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.analysis.sanitize import sanitize_text
from bot.errors import BudgetExceeded, LLMError
from bot.jobs.budgets import apply_budgets, release_budgets
from bot.jobs.conversation.prompts import ASK_PROMPT_VERSION, SYSTEM_PROMPT
from bot.jobs.deps import JobDeps
from bot.llm.types import CompletionRequest

log = logging.getLogger(__name__)

ANSWER_TOKENS = 1024
ANSWER_CHARS = 6000


@dataclass(frozen=True)
class ModelAnswer:
    text: str  # sanitised, ready to post; or why there is no answer
    answered: bool
    model: str | None = None
    cost_usd: float = 0.0


async def ask_model(deps: JobDeps, project_id: int, budget_key: str, user: str) -> ModelAnswer:
    """The model's answer to ``user`` (a prompt of bot.jobs.conversation.prompts)."""
    llm = deps.llm
    if llm is None:
        return ModelAnswer(
            "This auditbot server has no model configured, so it cannot answer questions; "
            "the offline analyzers' findings are in the summary comment.",
            answered=False,
        )
    # The monthly caps of the project and its installation apply, as they do to audits.
    installation_id = await apply_budgets(deps, project_id, budget_key)
    try:
        result = await llm.complete(
            CompletionRequest(
                system=SYSTEM_PROMPT,
                user=user,
                max_output_tokens=ANSWER_TOKENS,
                temperature=0.0,
                project_id=project_id,
                installation_id=installation_id,
                prompt_version=ASK_PROMPT_VERSION,
            )
        )
    except BudgetExceeded as exc:
        return ModelAnswer(f"No answer: {exc.message}.", answered=False)
    except LLMError as exc:
        log.warning("no answer from the model: %s", exc)
        return ModelAnswer(f"No answer: the model provider failed ({exc.reason}).",
                           answered=False)
    finally:
        release_budgets(deps, budget_key)
    text = sanitize_text(result.text, limit=ANSWER_CHARS)
    if not text:
        return ModelAnswer("The model gave no answer.", answered=False)
    return ModelAnswer(
        text, answered=True, model=f"{result.provider}/{result.model}", cost_usd=result.cost_usd
    )
