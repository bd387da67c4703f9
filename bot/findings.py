"""The findings schema every stage exchanges: analyzers and the model produce it, the
pipeline merges and places it, the store keeps it, the reports render it."""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical 4 ... info 0."""
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class Category(enum.StrEnum):
    SECURITY = "security"
    BUG = "bug"
    PERFORMANCE = "performance"
    MAINTAINABILITY = "maintainability"
    STYLE = "style"
    OTHER = "other"


class FindingStatus(enum.StrEnum):
    """A finding's triage state (`bot.store.triage` changes it and keeps the history)."""

    OPEN = "open"
    CONFIRMED = "confirmed"  # a person agrees it is a real problem; it stays reported
    FALSE_POSITIVE = "false_positive"
    WONT_FIX = "wont_fix"  # real, but accepted: silent from then on, like a false positive
    FIXED = "fixed"  # gone from the code (the pipeline sets it)

    @property
    def silenced(self) -> bool:
        """A person dismissed it: later runs do not report it again."""
        return self in (FindingStatus.FALSE_POSITIVE, FindingStatus.WONT_FIX)

    @property
    def active(self) -> bool:
        """Still in the code and still reported."""
        return self in (FindingStatus.OPEN, FindingStatus.CONFIRMED)


Side = Literal["new", "old"]


class Finding(BaseModel):
    """One problem at one place. Lines are 1-based and inclusive on ``side`` of the diff."""

    model_config = ConfigDict(frozen=True)

    path: str
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)
    side: Side = "new"
    severity: Severity
    category: Category
    title: str = Field(max_length=200)
    message: str
    cwe: str | None = None  # "CWE-89"
    suggestion: str | None = None  # replacement text for exactly start_line..end_line
    confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    source: str  # "static:<rule id>" or "llm:<provider>/<model>"
    rule_id: str | None = None
    quote: str | None = None  # the code the finding is about, as the producer saw it
    fingerprint: str | None = None

    @field_validator("end_line")
    @classmethod
    def _end_after_start(cls, value: int, info: object) -> int:
        start = getattr(info, "data", {}).get("start_line")
        if isinstance(start, int) and value < start:
            raise ValueError("end_line is before start_line")
        return value

    @field_validator("cwe")
    @classmethod
    def _cwe(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        value = value.strip().upper()
        if value.isdigit():
            value = f"CWE-{value}"
        return value
