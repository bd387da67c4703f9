"""Loading the real example payloads in tests/fixtures (see the READMEs there)."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GITHUB = FIXTURES / "github"
GITLAB = FIXTURES / "gitlab"


@functools.cache
def _read(path: Path) -> Any:
    return json.loads(path.read_text())


def github_payload(name: str) -> dict[str, Any]:
    """``tests/fixtures/github/<name>.json`` (a fresh copy the test may change)."""
    return copy.deepcopy(_read(GITHUB / f"{name}.json"))


def github_examples() -> list[tuple[str, int, dict[str, Any]]]:
    """Every example of every event of @octokit/webhooks-examples: (event, index, payload)."""
    return [
        (path.stem, index, example)
        for path in sorted((GITHUB / "all").glob("*.json"))
        for index, example in enumerate(_read(path))
    ]


def gitlab_payload(name: str) -> dict[str, Any]:
    return copy.deepcopy(_read(GITLAB / f"{name}.json"))


def gitlab_capture(event_header: str, action: str | None = None) -> dict[str, Any]:
    """A real gitlab.com capture from gitlab-com-captures.json."""
    for entry in _read(GITLAB / "gitlab-com-captures.json"):
        attributes = entry["payload"].get("object_attributes") or {}
        if entry["event_header"] == event_header and (
            action is None or attributes.get("action") == action
        ):
            return copy.deepcopy(entry["payload"])
    raise KeyError((event_header, action))


def gitlab_captures() -> list[tuple[str, dict[str, Any]]]:
    return [(e["event_header"], e["payload"]) for e in _read(GITLAB / "gitlab-com-captures.json")]
