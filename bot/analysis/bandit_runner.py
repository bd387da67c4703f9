"""Bandit on the new version of changed Python files, through its Python API, as Findings.

Bandit reads files from disk, so each batch is written to one temporary directory and run by
one BanditManager: no subprocess, and the plugin set is loaded once per batch.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from bandit.core import config as bandit_config
from bandit.core import manager as bandit_manager

from bot.analysis.bandit_wording import title_and_message
from bot.analysis.secrets import mask_secrets
from bot.findings import Category, Finding, Severity

logger = logging.getLogger(__name__)
# Bandit's DEBUG lines quote each issue's text, and for B105-B107 that text holds the
# password literal; its INFO lines are progress chatter. Only its warnings may reach our logs.
logging.getLogger("bandit").setLevel(logging.WARNING)

# Bandit's LOW severity results are mostly hygiene notes (import subprocess, random for
# jitter, subprocess without a shell, assert): on the corpus they were the only false positives
# from Bandit. They stay in the report as info, below the default inline-comment threshold.
_SEVERITY = {"HIGH": Severity.HIGH, "MEDIUM": Severity.MEDIUM, "LOW": Severity.INFO}
_CONFIDENCE = {"HIGH": 0.9, "MEDIUM": 0.6, "LOW": 0.3}
# Bandit's hard-coded password checks quote the literal in their text; never repeat it.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_QUOTES_VALUES = frozenset({"B105", "B106", "B107"})


# assert is how pytest tests check things: in a test file B101 is noise, not a finding.
_NOISE_IN_TESTS = frozenset({"B101"})
_TEST_DIRS = frozenset({"test", "tests", "testing"})


def is_test_path(path: str) -> bool:
    """A Python test file by the usual layouts: a tests/ folder, test_*.py, *_test.py,
    conftest.py."""
    parts = path.split("/")
    name = parts[-1]
    return (
        any(part in _TEST_DIRS for part in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name in {"conftest.py", "tests.py"}
    )


def _message(issue: Any) -> str:
    text = str(issue.text)
    if issue.test_id in _QUOTES_VALUES:
        text = _QUOTED.sub("'<redacted>'", text)
    masked, _ = mask_secrets(text)
    return masked


def _to_finding(path: str, issue: Any, source_lines: list[str]) -> Finding:
    line_range = [n for n in (issue.linerange or [issue.lineno]) if n >= 1] or [1]
    start, end = min(line_range), max(line_range)
    quote, _ = mask_secrets("\n".join(source_lines[start - 1 : end]), path=path)
    cwe = getattr(getattr(issue, "cwe", None), "id", 0)
    title, message = title_and_message(str(issue.test_id), _message(issue))
    return Finding(
        path=path,
        start_line=start,
        end_line=end,
        severity=_SEVERITY.get(str(issue.severity), Severity.INFO),
        category=Category.SECURITY,
        title=title,
        message=message,
        cwe=f"CWE-{cwe}" if cwe else None,
        confidence=_CONFIDENCE.get(str(issue.confidence), 0.5),
        source=f"static:bandit/{issue.test_id}",
        rule_id=f"bandit/{issue.test_id}",
        quote=quote[:2000] or None,
    )


def run_bandit(
    files: Mapping[str, str], lines: Mapping[str, Collection[int] | None] | None = None
) -> dict[str, list[Finding]]:
    """Bandit over ``{path: new content}``; per path, findings touching ``lines[path]``
    (all lines when the path is missing or maps to None). Files that do not parse give none.

    ``# nosec`` comments are ignored: the PR author writes them, and an audit must not be
    switched off by the code it audits.
    """
    results: dict[str, list[Finding]] = {path: [] for path in files}
    if not files:
        return results
    with tempfile.TemporaryDirectory(prefix="auditbot-bandit-") as folder:
        by_temp: dict[str, str] = {}
        for number, (path, content) in enumerate(files.items()):
            temp = Path(folder) / f"f{number}.py"
            temp.write_text(content, encoding="utf-8")
            by_temp[str(temp)] = path
        manager = bandit_manager.BanditManager(
            bandit_config.BanditConfig(), "file", quiet=True, ignore_nosec=True
        )
        manager.discover_files(list(by_temp))
        manager.run_tests()
        for name, reason in manager.get_skipped():
            logger.info("bandit skipped %s: %s", by_temp.get(_plain(name), name), reason)
        for issue in manager.get_issue_list():
            found = by_temp.get(_plain(issue.fname))
            if found is None:
                continue
            path = found
            if issue.test_id in _NOISE_IN_TESTS and is_test_path(path):
                continue
            wanted = (lines or {}).get(path)
            line_range = issue.linerange or [issue.lineno]
            if wanted is not None and not any(n in wanted for n in line_range):
                continue
            results[path].append(_to_finding(path, issue, files[path].split("\n")))
    for findings in results.values():
        findings.sort(key=lambda f: (f.start_line, f.end_line, f.source))
    return results


def _plain(name: str) -> str:
    # discover_files() prefixes "./" to relative names; ours are absolute, so only normalise.
    return str(Path(name))


def bandit_findings(path: str, content: str, lines: Collection[int] | None = None) -> list[Finding]:
    """Bandit's findings for one Python file."""
    return run_bandit({path: content}, {path: lines})[path]
