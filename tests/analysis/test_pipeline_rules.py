"""A repository's rule settings and its own rules, read from the base of the change."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.analysis.engine import find_semgrep
from bot.analysis.pipeline import ReviewOutcome, ReviewPipeline, ReviewRequest
from bot.findings import Severity
from bot.forges.base import ChangeTarget
from bot.forges.local.git import LocalGitSource
from tests.support.gitrepo import commit, make_repo
from tests.support.rules import NO_PRINT_RULE

pytestmark = pytest.mark.skipif(find_semgrep() is None, reason="semgrep is installed by setup")

ACME = NO_PRINT_RULE
CONFIG = """rules:
  custom: true
  disable: [python/code-eval]
  severity:
    python/insecure-tempfile: high
"""
CHANGE = (
    "import tempfile\n\n\ndef run(expr):\n    print(expr)\n    path = tempfile.mktemp()\n"
    "    return eval(expr), path\n"
)


async def _review(repo: Path) -> ReviewOutcome:
    source = LocalGitSource(repo)
    try:
        return await ReviewPipeline(source).run(
            ReviewRequest(target=ChangeTarget(base="HEAD~1", head="HEAD"))
        )
    finally:
        await source.close()


async def test_base_rules_settings_and_custom_rules_apply(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {
        ".auditbot.yml": CONFIG,
        ".auditbot/rules/acme.yml": ACME,
        ".auditbot/rules/broken.yml": "rules:\n  - id: acme.half\n    pattern: x\n",
        "app.py": "x = 1\n",
    })
    commit(repo, {"app.py": CHANGE}, "change")
    outcome = await _review(repo)
    by_rule = {p.finding.rule_id: p.finding for p in outcome.placed}
    assert by_rule["acme/no-print"].start_line == 5
    assert by_rule["acme/no-print"].severity == Severity.MEDIUM
    assert by_rule["python/insecure-tempfile"].severity == Severity.HIGH
    assert "python/code-eval" not in by_rule
    assert any("broken.yml" in e and "lacks metadata" in e for e in outcome.config_errors)


async def test_rules_added_by_the_pull_request_itself_do_not_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {".auditbot.yml": CONFIG, "app.py": "x = 1\n"})
    commit(repo, {"app.py": CHANGE, ".auditbot/rules/acme.yml": ACME,
                  ".auditbot.yml": "rules:\n  disable: [python/insecure-tempfile]\n"}, "sneaky")
    outcome = await _review(repo)
    rules = {p.finding.rule_id for p in outcome.placed}
    assert "acme/no-print" not in rules
    assert "python/insecure-tempfile" in rules
