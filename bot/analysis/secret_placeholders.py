"""Values that look like secrets but stand in for one: examples, templates, references.

Format rules (an ``sk-ant-`` key, a GitHub token) rarely meet a placeholder; the name
heuristics (``password = "..."``, a password in a URL, a high-entropy value assigned to a
secret-sounding name) meet them all the time, in docs, tests and configuration templates.
detect-secrets' own filters do part of it; the lists here do the rest.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from detect_secrets.filters import heuristic

# Kinds found by name heuristics rather than by a format: they get placeholder filtering.
HEURISTIC_KINDS = frozenset({"password", "generic-secret", "url-password"})
# Prose files, where a `password: ...` line is nearly always an example.
_DOCUMENTATION = re.compile(
    r"(?i)\.(?:md|markdown|mdx|rst|adoc|asciidoc|txt)$|(?:^|/)(?:README|CHANGELOG|CHANGES|HISTORY)$"
)


def likely_example(kind: str, path: str) -> bool:
    """A name-heuristic match in documentation: reported, but not as a critical leak. A key
    in a known format (AKIA..., ghp_...) stays critical there: real ones get pasted in docs."""
    return kind in HEURISTIC_KINDS and _DOCUMENTATION.search(path) is not None

_PLACEHOLDER = re.compile(
    r"(?i)example|placeholder|changeme|change[_-]me|your[_-]|xxxx|\*\*\*|dummy|redacted|"
    r"sample|<|>|\{\{|\$\(|%s|%\(|_here\b|\[\w+\]|\.\.\.|\u2026|"  # [password]: a template's slot
    r"^(?:password|passwd|pass|pwd|secret|none|null|nil|true|false|test|admin|root|user|guest|"
    r"foo|bar|baz|token|string|undefined|required|optional|"
    r"tiger|hunter2)$"  # scott/tiger and hunter2: the classic demo credentials
)
# Environment variable names (DB_PASSWORD) and dotted or dashed names without digits
# (app.secret.name, db-password) are references to secrets, not secrets.
_IDENTIFIER_LIKE = re.compile(r"^(?:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[a-z]+(?:[._:/-][a-z]+)+)$")


def placeholder_prefix(value: str, token: str) -> bool:
    """Whether ``value`` is only the start of a longer ``token`` that is a placeholder."""
    return len(token) > len(value) and token.startswith(value) and bool(_PLACEHOLDER.search(token))


def is_placeholder(kind: str, value: str, line: str) -> bool:
    """Whether ``value``, found as a ``kind`` on ``line``, is a stand-in rather than a secret."""
    if kind == "url-password":
        # URLs carry the password percent-encoded: "a%20secret" is the prose "a secret".
        value = unquote(value)
        if " " in value:
            return True
    if _PLACEHOLDER.search(value) or heuristic.is_sequential_string(value):
        return True
    if kind not in HEURISTIC_KINDS:
        return False
    if len(value) < 4 or heuristic.is_templated_secret(value):
        return True
    if heuristic.is_prefixed_with_dollar_sign(value) or heuristic.is_not_alphanumeric_string(value):
        return True
    if kind == "password":
        # Names, paths and prose assigned to a secret-sounding variable are not secrets:
        # SECRET_ENV = "DJANGO_SECRET", password_file = "/run/secrets/db", help texts.
        if " " in value or value.startswith(("/", "./", "~")) or _IDENTIFIER_LIKE.match(value):
            return True
        if heuristic.is_likely_id_string(value, line):
            return True
    return False
