"""Both forges with pull (merge) requests offer every feature the jobs use, as parts they
hold rather than mixins that only promise a method (``raise NotImplementedError``)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from bot.forges.code_scanning import CodeScanning
from bot.forges.conversation import Conversation
from bot.forges.github.code_scanning import GitHubCodeScanning
from bot.forges.github.conversation import GitHubConversation
from bot.forges.github.forge import GitHubForge
from bot.forges.gitlab.conversation import GitLabConversation
from bot.forges.gitlab.forge import GitLabForge
from bot.forges.pull_requests import PullRequestForge

FORGES = Path(__file__).resolve().parents[2] / "bot" / "forges"


def members(protocol: type) -> set[str]:
    return {
        name for name in vars(protocol)
        if not name.startswith("_") and name not in {"conversation", "code_scanning"}
    }


@pytest.mark.parametrize("forge", [GitHubForge, GitLabForge], ids=["github", "gitlab"])
def test_each_forge_implements_every_pull_request_feature(forge: type) -> None:
    for name in members(PullRequestForge) | {"fetch_change", "publish_review", "update_check"}:
        assert inspect.iscoroutinefunction(getattr(forge, name, None)), name


@pytest.mark.parametrize(
    ("part", "protocol"),
    [(GitHubConversation, Conversation), (GitLabConversation, Conversation),
     (GitHubCodeScanning, CodeScanning)],
    ids=["github-conversation", "gitlab-conversation", "github-code-scanning"],
)
def test_each_part_implements_its_protocol(part: type, protocol: type) -> None:
    for name in members(protocol):
        assert inspect.iscoroutinefunction(getattr(part, name, None)), name


def test_gitlab_has_no_code_scanning() -> None:
    assert GitLabForge.code_scanning is None


def test_no_forge_method_only_raises_not_implemented() -> None:
    """A mixin's promise of a method another class defines is invisible to the type
    checker's view of what exists; parts take the client they use instead."""
    found = []
    for path in sorted(FORGES.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = [s for s in node.body if not isinstance(s, ast.Expr)]  # docstrings
                if len(body) == 1 and isinstance(body[0], ast.Raise) and ast.unparse(
                    body[0]
                ) == "raise NotImplementedError":
                    found.append(f"{path.relative_to(FORGES.parent.parent)}:{node.lineno}")
    assert found == []
