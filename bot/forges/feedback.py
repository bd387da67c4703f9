"""Reading people's answers to our comments, forge-neutral: the finding key in our hidden
marker, and whether a reply dismisses the finding ("false positive" or "won't fix", with an
optional reason after it).

Only the first line decides, and only when it starts with the phrase: a reply that merely
mentions a false positive somewhere ("is this a false positive?") dismisses nothing. The
state a reply can set is fixed here, never read from the model: a reply the model answers
cannot change a finding.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.findings import FindingStatus
from bot.forges.base import COMMENT_MARKER_PREFIX

# Whether a person's feedback counts (the conversation's write-access check).
Accept = Callable[[str], Awaitable[bool]]

_MARKER = re.compile(re.escape(COMMENT_MARKER_PREFIX) + r"(\S+) -->")
FALSE_POSITIVE = "false positive"
# "false positive", "false-positive"; "won't fix", "wont fix", "won’t fix", "wontfix".
_DISMISSAL = re.compile(
    r"^\s*(?:(?P<fp>false[ -]positive)|(?P<wf>won['’]?t[ -]?fix))\b(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
# What may sit between the phrase and its reason: "false positive: ...", "won't fix - ...".
_SEPARATOR = re.compile(r"^[\s.!,;:—–-]*")
REASON_LIMIT = 1000


@dataclass(frozen=True)
class Dismissal:
    state: FindingStatus
    reason: str | None


def marker_key(body: str | None) -> str | None:
    """The finding key of a comment body carrying our hidden marker, else None."""
    found = _MARKER.search(body or "")
    return found.group(1) if found else None


def read_dismissal(body: str | None) -> Dismissal | None:
    """The dismissal a reply states on its first line, with the rest as its reason."""
    text = (body or "").strip()
    match = _DISMISSAL.match(text)
    if match is None:
        return None
    # The \b above: "false positives everywhere" is not "false positive".
    first, _, later = match.group("rest").partition("\n")
    reason = (_SEPARATOR.sub("", first, count=1) + "\n" + later).strip()
    state = FindingStatus.FALSE_POSITIVE if match.group("fp") else FindingStatus.WONT_FIX
    return Dismissal(state, reason[:REASON_LIMIT] or None)


def says_false_positive(body: str | None) -> bool:
    """A reply whose first line is "false positive" (any case, trailing punctuation, an
    optional reason after it)."""
    found = read_dismissal(body)
    return found is not None and found.state is FindingStatus.FALSE_POSITIVE
