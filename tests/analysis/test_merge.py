"""Merging hand-made findings from several sources, and fingerprints across line shifts."""

from __future__ import annotations

import itertools

from bot.analysis.merge import fingerprint, merge_findings, normalise_code
from bot.findings import Category, Finding, Severity


def make(**fields: object) -> Finding:
    base: dict[str, object] = {
        "path": "app/db.py",
        "start_line": 10,
        "end_line": 10,
        "severity": Severity.HIGH,
        "category": Category.SECURITY,
        "title": "SQL injection",
        "message": "Query built with an f-string.",
        "cwe": "CWE-89",
        "source": "static:python/sql-string-format",
        "rule_id": "python/sql-string-format",
        "confidence": 0.7,
    }
    base.update(fields)
    return Finding.model_validate(base)


def test_same_problem_from_two_sources_is_one_finding() -> None:
    rule = make()
    model = make(
        source="llm:openai/gpt-4o", rule_id=None, severity=Severity.CRITICAL, start_line=9,
        end_line=11, message="The user id from the URL is pasted into the SQL text; use params.",
        title="SQL injection through user_id", confidence=0.9,
    )
    merged = merge_findings([rule, model])
    assert len(merged) == 1
    only = merged[0]
    assert only.severity is Severity.CRITICAL
    assert only.source == "llm:openai/gpt-4o+static:python/sql-string-format"
    assert only.message == model.message
    assert (only.start_line, only.end_line) == (9, 11)
    assert only.rule_id == "python/sql-string-format"
    assert only.confidence == 0.9


def test_related_cwes_merge_and_unrelated_ones_do_not() -> None:
    password = make(cwe="CWE-798", source="static:secret/password", title="Password")
    bandit = make(cwe="CWE-259", source="static:bandit/B105", severity=Severity.LOW)
    shell = make(cwe="CWE-78", source="static:bandit/B602", title="Shell")
    merged = merge_findings([password, bandit, shell])
    assert len(merged) == 2
    assert {f.source for f in merged} == {
        "static:secret/password+static:bandit/B105",
        "static:bandit/B602",
    }
    combined = next(f for f in merged if "B105" in f.source)
    assert combined.severity is Severity.HIGH


def test_findings_without_cwe_merge_on_category() -> None:
    a = make(cwe=None, category=Category.BUG, source="llm:a/m", title="Off by one")
    b = make(cwe=None, category=Category.BUG, source="llm:b/m", title="Loop bound")
    c = make(cwe=None, category=Category.PERFORMANCE, source="llm:b/m", title="Slow")
    assert len(merge_findings([a, b, c])) == 2


def test_disjoint_lines_and_other_paths_stay_apart() -> None:
    a = make()
    b = make(start_line=11, end_line=12)
    c = make(path="app/other.py")
    d = make(side="old")
    assert len(merge_findings([a, b, c, d])) == 4


def test_merge_is_deterministic_in_any_input_order() -> None:
    items = [
        make(),
        make(source="llm:x/y", rule_id=None, message="longer explanation of the same problem"),
        make(start_line=30, end_line=31, cwe="CWE-78", source="static:bandit/B602"),
        make(path="a.py", cwe=None, category=Category.BUG, source="llm:x/y"),
    ]
    results = {tuple(merge_findings(order)) for order in itertools.permutations(items)}
    assert len(results) == 1
    paths = [f.path for f in next(iter(results))]
    assert paths == sorted(paths)


def test_fingerprint_ignores_line_shifts_and_whitespace() -> None:
    before = ["import db", "", "def get(user_id):", '    db.execute(f"SELECT {user_id}")']
    after = ["import db", "import os", "", "", "def get(user_id):",
             '        db.execute( f"SELECT {user_id}")'.replace("( ", "(")]
    first = fingerprint(make(start_line=4, end_line=4), before)
    moved = fingerprint(make(start_line=6, end_line=6), after)
    assert first == moved
    assert fingerprint(make(start_line=3, end_line=3), before) != first
    assert fingerprint(make(path="other.py", start_line=4, end_line=4), before) != first


def test_fingerprint_falls_back_to_the_quote() -> None:
    finding = make(start_line=50, end_line=50, quote="db.execute(q)")
    moved = finding.model_copy(update={"start_line": 60, "end_line": 60})
    assert fingerprint(finding, ["x", "y"]) == fingerprint(moved, [])


def test_normalise_code() -> None:
    assert normalise_code(["  a   =  1 ", "", "\tb = 2"]) == "a = 1\nb = 2"


def test_fingerprint_accepts_the_whole_file_or_just_the_findings_lines() -> None:
    whole = ["import db", "", "def get(user_id):", '    db.execute(f"SELECT {user_id}")', ""]
    finding = make(start_line=3, end_line=4)
    assert fingerprint(finding, whole) == fingerprint(finding, whole[2:4])


def test_the_words_shown_are_the_best_written_not_the_most_confident() -> None:
    """Same severity: a model's message about this code beats our rule's text, which beats
    Bandit's generic one, whatever their confidences; the merged confidence is the highest."""
    bandit = make(source="static:bandit/B608", rule_id="bandit/B608", confidence=0.9,
                  title="SQL built from strings")
    rule = make(confidence=0.6)
    model = make(source="llm:openai/gpt-4o", rule_id=None, confidence=0.5,
                 title="user_id pasted into the query", message="Use a bound parameter.")
    merged = merge_findings([bandit, rule])
    assert [(f.title, f.confidence) for f in merged] == [("SQL injection", 0.9)]
    merged = merge_findings([bandit, rule, model])
    assert [(f.title, f.confidence) for f in merged] == [("user_id pasted into the query", 0.9)]
    worse = make(source="static:bandit/B608", severity=Severity.CRITICAL, title="Bandit's")
    assert [f.title for f in merge_findings([rule, model, worse])] == ["Bandit's"]
