"""The analyzers over the labelled corpus: the issue's goal of recall >= 0.8 and a
false-positive rate <= 0.1, on the tuning corpus and on the held-out one.

bench/bench_static.py prints the same figures with per-language detail and timings.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.analysis.merge import cwe_families
from bot.analysis.static import analyze_file
from bot.findings import Severity

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "corpus"


def _score(folder: Path) -> tuple[float, float, list[str]]:
    entries = yaml.safe_load((folder / "manifest.yml").read_text())["snippets"]
    found = vulnerable = false_positives = safe = 0
    notes = []
    for entry in entries:
        content = (folder / entry["path"]).read_text(encoding="utf-8")
        findings = [
            f for f in analyze_file(entry["path"], content) if f.severity.at_least(Severity.LOW)
        ]
        if entry["label"] == "vulnerable":
            vulnerable += 1
            wanted = cwe_families(entry["cwe"])
            if any(cwe_families(f.cwe) & wanted for f in findings):
                found += 1
            else:
                notes.append(f"missed {entry['path']}")
        else:
            safe += 1
            if findings:
                false_positives += 1
                notes.append(f"false positive {entry['path']}: {[f.source for f in findings]}")
    return found / vulnerable, false_positives / safe, notes


@pytest.mark.parametrize(
    "folder", ["", "holdout", "holdout2"], ids=["tuning", "holdout", "holdout2"]
)
def test_corpus_meets_the_goal(folder: str) -> None:
    recall, fp_rate, notes = _score(CORPUS / folder)
    assert recall >= 0.8, notes
    assert fp_rate <= 0.1, notes


def test_corpus_is_large_enough_and_mixed() -> None:
    entries = yaml.safe_load((CORPUS / "manifest.yml").read_text())["snippets"]
    labels = [e["label"] for e in entries]
    assert labels.count("vulnerable") >= 60
    assert labels.count("safe") >= 60
    languages = {e["path"].split("/", 1)[0] for e in entries}
    assert {"python", "js", "go", "java", "php", "ruby", "c", "shell", "sql", "yaml"} <= languages
