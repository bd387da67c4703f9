"""Size limits of the forges' text fields, and cutting text to fit them.

GitHub: an issue comment or review body must be shorter than 65,536 characters ("body is
too long (maximum is 65536 characters)"); a check run's ``output.summary`` and
``output.text`` hold at most 65,535 characters each
(docs.github.com/en/rest/checks/runs#create-a-check-run); at most 50 annotations per
request. GitLab notes allow 1,000,000 characters; commit status descriptions are short.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

GITHUB_BODY_MAX = 65_535  # "maximum is 65536": stay strictly below
CHECK_OUTPUT_MAX = 65_535
CHECK_TITLE_MAX = 1_000
ANNOTATIONS_PER_REQUEST = 50
GITLAB_NOTE_MAX = 1_000_000
GITLAB_STATUS_DESCRIPTION_MAX = 255
PR_FILES_MAX = 3_000

CUT_NOTE = "\n\n… (cut to fit the forge's size limit; the full text is in the report)"

T = TypeVar("T")


def fit(text: str, limit: int, *, note: str = CUT_NOTE) -> str:
    """``text`` unchanged when it fits, else cut and ended with ``note``.

    Markers that must survive (``<!-- auditbot:... -->``) belong at the start of the text.
    """
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(note))
    return text[:keep] + note[: limit - keep]


def batches(items: Sequence[T], size: int) -> Iterator[tuple[T, ...]]:
    for start in range(0, len(items), size):
        yield tuple(items[start : start + size])
