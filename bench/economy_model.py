"""The scripted model of the economy benchmark: the fake OpenAI server of the tests
(``tests/fakes/fake_openai.py``, which checks every request as the real protocol would,
counts prompt characters and applies the providers' prompt-cache rules) with an answer
computed from the prompt.

For auditbot it reports the three flaws of ``economy_pr.FLAWED`` wherever their line is
shown as added, with the path and line number read from the prompt (so findings land on
real lines and comments get posted, as with a real model). For PR-Agent it answers a
minimal valid ``/review`` in PR-Agent's YAML. Anything else gets an empty findings list.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bench.economy_pr import FLAW_LINES
from tests.fakes.fake_openai import FakeOpenAI, OpenAIExpect
from tests.fakes.prompt_cache import PromptCache

KEY = "sk-bench-0123456789abcdef0123456789abcdef"
MODEL = "gpt-4.1-mini"
# A file header names the path: "### path (status)" / "## path" / "## File: 'path'".
_HEADER = re.compile(r"^#{2,3} (?:File: )?'?([^\s'()]+)")
# A numbered line: "  12 + code", "12 + code", "12+code".
_NUMBERED = re.compile(r"^\s*(\d+) ?([+ .]) ?(.*)$")

PR_AGENT_REVIEW = """```yaml
review:
  estimated_effort_to_review_[1-5]: |
    2
  score: 80
  relevant_tests: |
    No
  key_issues_to_review: []
  security_concerns: |
    No
```"""


def scripted_answer(body: dict[str, Any]) -> str:
    messages = body["messages"]
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    if "PR-Reviewer" in system:
        return PR_AGENT_REVIEW
    user = "\n".join(m["content"] for m in messages if m["role"] == "user")
    findings: list[dict[str, Any]] = []
    path = None
    for line in user.splitlines():
        header = _HEADER.match(line)
        if header:
            path = header.group(1)
            continue
        numbered = _NUMBERED.match(line)
        if path is None or numbered is None or numbered.group(2) != "+":
            continue
        code = numbered.group(3).strip()
        if FLAW_LINES.get(path) == code:
            number = int(numbered.group(1))
            findings.append({
                "path": path, "start_line": number, "end_line": number,
                "severity": "high", "category": "security", "cwe": None,
                "title": "Untrusted input reaches a dangerous call",
                "message": "Input from the caller flows into this call unchecked.",
                "suggestion": None, "quote": code, "confidence": 0.9,
            })
    return json.dumps({"findings": findings})


def scripted_model(
    delay_s: float = 0.0, *, openai_itself: bool = True, model: str = MODEL
) -> FakeOpenAI:
    """The fake as OpenAI itself (accepts ``prompt_cache_key``, ``max_completion_tokens``)
    or as another OpenAI-compatible server (``max_tokens``, no unknown fields)."""
    expect = OpenAIExpect(
        path="/v1/chat/completions", key=KEY, model=model,
        max_tokens_field="max_completion_tokens" if openai_itself else "max_tokens",
        require_max_tokens=model == MODEL,  # PR-Agent leaves the answer unbounded
    )
    return FakeOpenAI(
        expect, findings=[], answer=scripted_answer, delay_s=delay_s,
        prompt_cache=PromptCache(),
        extra_fields=frozenset({"prompt_cache_key"}) if openai_itself else frozenset(),
    )
