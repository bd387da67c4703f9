"""Paths whose changes deserve the model's attention first (sending order only)."""

from __future__ import annotations

import re

# Matched against the lower-cased path. A path is only ordered earlier: this never
# decides what is reviewed, so a false positive costs nothing.
_SENSITIVE = re.compile(
    r"auth|login|logout|passw|secret|credential|token|session|cookie|oauth|saml|sso|jwt"
    r"|crypt|cipher|hash|sign|cert|tls|ssl|key|permission|acl|rbac|policy|role|admin"
    r"|security|sanitiz|escape|csrf|xss|cors|upload|download|payment|billing|webhook"
    r"|sql|query|db/|migration|exec|shell|subprocess|deserializ|pickle|eval"
    r"|dockerfile|\.github/workflows/|\.gitlab-ci|\.tf$|iam|nginx|\.htaccess|settings|config"
)


def is_sensitive_path(path: str) -> bool:
    return _SENSITIVE.search(path.lower()) is not None
