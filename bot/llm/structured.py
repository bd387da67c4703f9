"""Asking for structured output and reading it back tolerantly.

Models wrap JSON in code fences, prepend reasoning (``<think>`` blocks), stop mid-answer at
the token limit, or return a bare list. The local repairs here fix those without inventing
content: the only thing ever dropped is a trailing item the model did not finish, and
that is reported in ``repairs``. Anything else goes back to the model once (the service's
fix-up request) and, failing that, is a recorded failure.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


class OutputError(ValueError):
    """The text could not be made into a valid instance; ``reason`` says why, briefly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@functools.lru_cache(maxsize=64)
def json_schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, built once per class (pydantic rebuilds it on every call,
    a few ms of CPU per chunk). Callers must not mutate the returned dict."""
    return model.model_json_schema()


def schema_instructions(schema: dict[str, Any]) -> str:
    """The schema in the prompt, for providers without a JSON-schema mechanism (and the
    word "JSON", which OpenAI's JSON mode requires to appear in the messages)."""
    return (
        "Answer with one JSON object only, no prose and no code fence. It must validate "
        "against this JSON schema:\n" + json.dumps(schema, separators=(",", ":"))
    )


def parse_structured(text: str, model: type[M]) -> tuple[M, tuple[str, ...]]:
    """Parse ``text`` into ``model``, applying the local repairs in order of invasiveness."""
    repairs: list[str] = []
    cleaned = _THINK.sub("", text).strip()
    if not cleaned:
        raise OutputError("empty answer")
    if cleaned != text.strip():
        repairs.append("removed reasoning block")
    candidates: list[tuple[str, str | None]] = [(cleaned, None)]
    fenced = _FENCE.search(cleaned)
    if fenced:
        candidates.append((fenced.group(1).strip(), "stripped code fence"))
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if 0 <= start < end and (start > 0 or end < len(cleaned) - 1):
        candidates.append((cleaned[start : end + 1], "cut text around the JSON object"))
    last_error = "not valid JSON"
    for candidate, note in candidates:
        value, error = _loads(candidate)
        if error is not None:
            last_error = error
            continue
        result, shape_error = _validate(value, model)
        if result is not None:
            if _wrap(value, model) is not value:
                repairs.append("wrapped a bare list")
            return result, tuple(repairs + ([note] if note else []))
        raise OutputError(shape_error or "wrong shape")
    # Not JSON at all: perhaps cut off at the token limit. Keep every complete item.
    base = fenced.group(1) if fenced else cleaned
    if "{" in base:
        base = base[base.find("{") :]
    truncated = cut_at_last_complete_item(base)
    if truncated is not None:
        value, error = _loads(truncated)
        if error is None:
            result, shape_error = _validate(value, model)
            if result is not None:
                return result, (*repairs, "cut after last complete item")
            raise OutputError(shape_error or "wrong shape")
    raise OutputError(last_error)


def _loads(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg} at char {exc.pos})"


def _validate(value: Any, model: type[M]) -> tuple[M | None, str | None]:
    try:
        return model.model_validate(_wrap(value, model)), None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "answer"
        count = exc.error_count()
        return None, f"JSON of the wrong shape: {where}: {first['msg']} ({count} errors)"


def _wrap(value: Any, model: type[BaseModel]) -> Any:
    """A bare list where the schema has one required field: wrap it, nothing is invented."""
    if isinstance(value, list):
        fields = [name for name, f in model.model_fields.items() if f.is_required()]
        if len(fields) == 1:
            return {fields[0]: value}
    return value


def cut_at_last_complete_item(text: str) -> str | None:
    """Truncate ``text`` after the last complete element of an array and close every open
    bracket, or None when no array element was ever completed."""
    stack: list[str] = []
    in_string = False
    escaped = False
    cut: tuple[int, list[str]] | None = None
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]":
            if not stack or (stack[-1] == "{") != (char == "}"):
                return None
            stack.pop()
            if stack and stack[-1] == "[":
                cut = (index + 1, list(stack))
    if cut is None:
        return None
    position, open_brackets = cut
    closing = "".join("]" if b == "[" else "}" for b in reversed(open_brackets))
    return text[:position] + closing
