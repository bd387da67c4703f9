"""A repository's own engine rules: ``.auditbot/rules/*.yml`` at the base of the change.

Read from the base branch, like .auditbot.yml, so a pull request cannot add, change or
switch off rules that judge it. Each file is validated as our built-in rules are (id,
severity, CWE, title, fix, examples); a file that fails is left out and its error goes to
the check run, and the other files still run.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.analysis.engine import EngineRule, builtin_rules, parse_rules
from bot.errors import ConfigError
from bot.forges.base import ChangeSource

logger = logging.getLogger(__name__)

RULES_FOLDER = ".auditbot/rules/"
MAX_FILES = 20
MAX_BYTES = 256 * 1024

CustomRules = tuple[tuple[dict[str, Any], EngineRule], ...]


async def load_custom_rules(source: ChangeSource, ref: str) -> tuple[CustomRules, list[str]]:
    """The valid custom rules at ``ref`` and one error line per problem."""
    paths = sorted(
        p for p in await source.list_tree(ref)
        if p.startswith(RULES_FOLDER) and p.endswith((".yml", ".yaml"))
    )
    errors: list[str] = []
    if len(paths) > MAX_FILES:
        errors.append(f"{RULES_FOLDER}: only the first {MAX_FILES} rule files are read")
        paths = paths[:MAX_FILES]
    taken = {rule.id for rule in builtin_rules()[1]}
    rules: list[tuple[dict[str, Any], EngineRule]] = []
    for path in paths:
        data = await source.read_file(path, ref)
        if data is None:
            continue
        if len(data) > MAX_BYTES:
            errors.append(f"{path}: larger than {MAX_BYTES} bytes; ignored")
            continue
        try:
            raw, parsed = parse_rules(data.decode("utf-8", errors="replace"), path)
        except ConfigError as error:
            errors.append(str(error))
            continue
        clash = sorted({rule.id for rule in parsed} & taken)
        if clash:
            errors.append(f"{path}: rule ids already in use: {', '.join(clash)}; file ignored")
            continue
        taken.update(rule.id for rule in parsed)
        rules.extend(zip(raw, parsed, strict=True))
    logger.info("custom rules at %s: %d rule(s), %d error(s)", ref[:12], len(rules), len(errors))
    return tuple(rules), errors
