"""``.auditbot.yml``: the per-repository configuration, validated, with defaults.

Read from the base branch by the caller (never the PR's head). A file that does not
parse or validate never raises: the valid keys are kept, every invalid one falls back to
its default, and each problem becomes a human-readable error (``line N: key: why``) for
the check run. A repository can pick a model only among ``LLM_ALLOWED_MODELS`` and can
never set a provider, URL or key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pathspec
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.diff.filters import DEFAULT_MAX_BYTES, FileFilter
from bot.findings import Severity

logger = logging.getLogger(__name__)

MAX_CONFIG_BYTES = 256 * 1024
_FORBIDDEN_LLM_KEYS = {"provider", "base_url", "url", "api_key", "key", "api_base", "endpoint"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_globs(globs: list[str]) -> list[str]:
    for glob in globs:
        try:
            pathspec.GitIgnoreSpec.from_lines([glob])
        except (ValueError, TypeError) as exc:
            raise ValueError(f"invalid glob {glob!r}: {exc}") from exc
    return globs


class PathsConfig(_Strict):
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    _globs = field_validator("include", "exclude")(_check_globs)


class ReviewConfig(_Strict):
    min_severity: Severity = Severity.LOW
    fail_on: Severity | None = Severity.HIGH  # None (``never``): the check never fails
    max_comments: int = Field(default=30, ge=0, le=200)
    language: str = Field(default="en", pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
    drafts: bool = False
    ignore_authors: list[str] = Field(default_factory=list)

    @field_validator("fail_on", mode="before")
    @classmethod
    def _never(cls, value: object) -> object:
        return None if isinstance(value, str) and value.lower() in ("never", "none") else value


class LLMConfig(_Strict):
    model: str | None = None


class RulesConfig(_Strict):
    """Offline rules: ids switched off, severities changed, and whether the repository's own
    rules under .auditbot/rules/ (read from the base branch) run too."""

    disable: list[str] = Field(default_factory=list)
    severity: dict[str, Severity] = Field(default_factory=dict)
    custom: bool = False


class RepoConfig(_Strict):
    enabled: bool = True
    # GitHub: upload each audit's findings to code scanning when the App may (false: never).
    code_scanning: bool = True
    paths: PathsConfig = Field(default_factory=PathsConfig)
    path_instructions: dict[str, str] = Field(default_factory=dict)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)

    @field_validator("path_instructions", mode="before")
    @classmethod
    def _instruction_list(cls, value: object) -> object:
        # Also accept the list form other review bots use: [{path: glob, instructions: text}].
        if isinstance(value, list) and all(
            isinstance(v, dict) and set(v) == {"path", "instructions"} for v in value
        ):
            return {v["path"]: v["instructions"] for v in value}
        return value

    @field_validator("path_instructions")
    @classmethod
    def _instruction_globs(cls, value: dict[str, str]) -> dict[str, str]:
        _check_globs(list(value))
        return value

    def file_filter(self, max_bytes: int = DEFAULT_MAX_BYTES) -> FileFilter:
        """The file filter this configuration asks for (defaults plus ``paths``)."""
        return FileFilter(
            include=list(self.paths.include), exclude=list(self.paths.exclude), max_bytes=max_bytes
        )

    def instructions_for(self, path: str) -> list[str]:
        """Extra guidance for ``path``, in file order of the matching globs."""
        return [
            text
            for glob, text in self.path_instructions.items()
            if pathspec.GitIgnoreSpec.from_lines([glob]).match_file(path)
        ]


def load_repo_config(
    text: str | bytes | None, *, allowed_models: Sequence[str] = ()
) -> tuple[RepoConfig, list[str]]:
    """Parse and validate ``.auditbot.yml``; returns the config and the errors found."""
    if text is None:
        return RepoConfig(), []
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if len(text) > MAX_CONFIG_BYTES:
        return RepoConfig(), [f".auditbot.yml is larger than {MAX_CONFIG_BYTES} bytes; ignored"]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return RepoConfig(), [f"{where}not valid YAML: {problem}"]
    if data is None:
        return RepoConfig(), []
    if not isinstance(data, dict):
        return RepoConfig(), [
            "line 1: the file must be a mapping of keys (enabled, paths, review, ...)"
        ]
    errors: list[str] = []
    config = _validate(data, node, errors)
    model = config.llm.model
    if model is not None and model not in allowed_models:
        allowed = ", ".join(allowed_models) if allowed_models else "none are allowed"
        errors.append(
            f"{_line(node, ('llm', 'model'))}llm.model: {model!r} is not among the models this "
            f"server allows (LLM_ALLOWED_MODELS: {allowed}); the server's model is used"
        )
        config = config.model_copy(update={"llm": LLMConfig()})
    return config, errors


def _validate(data: dict[str, Any], node: yaml.Node | None, errors: list[str]) -> RepoConfig:
    # Drop each invalid key and validate again, so one typo costs one setting, not all.
    for _ in range(50):
        try:
            return RepoConfig.model_validate(data)
        except ValidationError as exc:
            before = data
            for err in exc.errors():
                loc = tuple(err["loc"])
                errors.append(f"{_line(node, loc)}{_key(loc)}: {_message(err, loc)}")
                data = _without(data, loc)
            if data == before:
                break
    return RepoConfig()


def _message(err: Any, loc: tuple[Any, ...]) -> str:
    if err["type"] == "extra_forbidden":
        if len(loc) == 2 and loc[0] == "llm" and loc[1] in _FORBIDDEN_LLM_KEYS:
            return (
                "a repository cannot set the LLM provider, URL or key; the server's "
                "settings are used (only llm.model may be chosen)"
            )
        return "unknown key; ignored"
    return f"{err['msg']}; the default is used"


def _key(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _without(data: Any, loc: tuple[Any, ...]) -> Any:
    """A copy of ``data`` without the value at ``loc`` (its parent key when in a list)."""
    if not loc or not isinstance(data, dict) or loc[0] not in data:
        return data
    head, rest = loc[0], loc[1:]
    copy = dict(data)
    child = copy[head]
    if rest and isinstance(child, dict) and rest[0] in child:
        copy[head] = _without(child, rest)
    else:
        del copy[head]
    return copy


def _line(node: yaml.Node | None, loc: tuple[Any, ...]) -> str:
    """``line N: `` for the deepest YAML node reachable along ``loc``."""
    found = node
    for part in loc:
        if isinstance(found, yaml.MappingNode):
            nxt = next((v for k, v in found.value if k.value == str(part)), None)
            if nxt is None:
                key_node = next((k for k, _ in found.value if k.value == str(part)), None)
                found = key_node or found
                break
            found = nxt
        elif isinstance(found, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(found.value):
                break
            found = found.value[part]
        else:
            break
    if found is None:
        return ""
    return f"line {found.start_mark.line + 1}: "
