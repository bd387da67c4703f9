"""The schema the model answers in, and its conversion into the findings schema.

Kept apart from :class:`bot.findings.Finding`: the model never chooses the
``source``, ``fingerprint`` or ``side`` of a finding; the pipeline does. Validation is
tolerant where it costs nothing ("High" is "high", a missing end line is the start line)
and strict where a guess would invent content (an unknown severity is an error, which
goes back to the model once through the repair path).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.findings import Category, Finding, Severity
from bot.llm.structured import OutputError, parse_structured

__all__ = ["ModelAnswer", "ModelFinding", "OutputError", "parse_answer"]


class ModelFinding(BaseModel):
    """One problem the model reports, with lines as numbered in the prompt (new side)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    path: str = Field(min_length=1, description="File path exactly as given in the diff header")
    start_line: int = Field(ge=1, description="First line of the problem in the new file")
    end_line: int | None = Field(default=None, ge=1, description="Last line; default start_line")
    severity: Severity
    category: Category
    cwe: str | None = Field(default=None, description='Like "CWE-89"; null when none applies')
    title: str = Field(min_length=1, max_length=200)
    message: str = Field(description="What is wrong and why it matters")
    suggestion: str | None = Field(
        default=None, description="Replacement text for exactly start_line..end_line, or null"
    )
    quote: str | None = Field(default=None, description="The offending code, copied verbatim")
    confidence: float = Field(default=0.7, ge=0.0, le=1.0)

    @field_validator("severity", "category", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("cwe", mode="before")
    @classmethod
    def _cwe(cls, value: Any) -> Any:
        if isinstance(value, int):
            return f"CWE-{value}"
        if isinstance(value, str):
            value = value.strip().upper()
            if value in {"", "NONE", "N/A", "NULL"}:
                return None
            return f"CWE-{value}" if value.isdigit() else value
        return value

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, value: Any) -> Any:
        # A long title is shortened rather than rejected: the message keeps the detail.
        if isinstance(value, str) and len(value) > 200:
            return value[:197].rstrip() + "..."
        return value

    @model_validator(mode="after")
    def _lines(self) -> ModelFinding:
        if self.end_line is None or self.end_line < self.start_line:
            object.__setattr__(self, "end_line", self.start_line)
        return self

    def to_finding(self, source: str) -> Finding:
        """The finding as every stage exchanges it; ``source`` is ``llm:<provider>/<model>``."""
        return Finding(
            path=self.path,
            start_line=self.start_line,
            end_line=self.end_line or self.start_line,
            severity=self.severity,
            category=self.category,
            title=self.title,
            message=self.message,
            cwe=self.cwe,
            suggestion=self.suggestion,
            confidence=self.confidence,
            source=source,
            quote=self.quote,
        )


class ModelAnswer(BaseModel):
    """The whole answer for one chunk: zero or more findings."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    findings: list[ModelFinding]


def parse_answer(text: str) -> tuple[ModelAnswer, tuple[str, ...]]:
    """Parse a model's text into a :class:`ModelAnswer` with the local repairs; raises
    :class:`OutputError` with the reason when it cannot."""
    return parse_structured(text, ModelAnswer)
