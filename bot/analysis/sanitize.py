"""Model output is untrusted: the PR author can steer the model. Before any model text is
posted it loses @mentions (no pings), images and links (no tracking pixels, no phishing),
raw HTML and HTML comments (no forged hidden markers), and code fences in suggestions."""

from __future__ import annotations

import re

MAX_TEXT = 4000

_HTML_COMMENT = re.compile(r"<!--.*?(-->|$)", re.DOTALL)
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_REF_LINK_DEF = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto):[^>]*>", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?|ftp)://[^\s)>\]]+", re.IGNORECASE)
_WWW = re.compile(r"\bwww\.[^\s)>\]]+", re.IGNORECASE)
# @user, @org/team; not e-mail addresses (a word character before the @).
_MENTION = re.compile(r"(?<![\w@`])@([A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9_.-]+)?)")


def sanitize_text(text: str, *, limit: int = MAX_TEXT) -> str:
    """Model prose made safe to post on a forge."""
    text = _HTML_COMMENT.sub("", text)
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _REF_LINK_DEF.sub("", text)
    text = _AUTOLINK.sub("[link removed]", text)
    text = _URL.sub("[link removed]", text)
    text = _WWW.sub("[link removed]", text)
    text = _HTML_TAG.sub("", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    text = _MENTION.sub(lambda m: m.group(1), text)
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def sanitize_title(text: str) -> str:
    return sanitize_text(" ".join(text.split()), limit=200)


def sanitize_suggestion(text: str | None) -> str | None:
    """Replacement code for a ```suggestion block, or None when it cannot be posted safely.

    Code is not prose: mentions and URLs inside code are left alone (GitHub does not ping
    from inside a code block), but a fence would close the block early and let the rest
    render as markdown, so text with ``` is refused.
    """
    if text is None:
        return None
    if "```" in text or "~~~" in text:
        return None
    text = text.replace("\r\n", "\n")
    return text.removesuffix("\n")
