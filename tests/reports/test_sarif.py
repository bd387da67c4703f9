"""SARIF output validates against the official SARIF 2.1.0 schema and carries what GitHub
code scanning reads: rules with help, locations, partial fingerprints, levels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.reports import Report, TaskInfo, render_sarif

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text()
)


def _validate(log: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(json.loads(json.dumps(log)))


def test_sarif_is_valid_against_the_schema(report: Report) -> None:
    _validate(render_sarif(report))


def test_empty_report_is_valid_too() -> None:
    empty = Report.build(TaskInfo(id="t", kind="local", status="succeeded"), [])
    log = render_sarif(empty)
    _validate(log)
    assert log["runs"][0]["results"] == []


def test_invalid_sarif_would_be_caught() -> None:
    # The validator is not vacuous: a level SARIF does not know fails.
    with pytest.raises(jsonschema.ValidationError):
        _validate({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
                                                 "results": [{"message": {"text": "m"},
                                                              "level": "fatal"}]}]})


def test_results_carry_what_code_scanning_needs(report: Report) -> None:
    run = render_sarif(report)["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    results = run["results"]
    assert len(results) == len(report.findings)
    first = results[0]
    assert first["ruleId"] == "llm/CWE-89"
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == first["ruleId"]
    assert first["level"] == "error"
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "app/db.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"]["startLine"] == 12
    assert location["region"]["endLine"] == 13
    assert first["partialFingerprints"] == {"auditbot/v1": "f" * 32}
    rule = rules["llm/CWE-89"]
    assert rule["help"]["markdown"].endswith("(https://cwe.mitre.org/data/definitions/89.html).")
    assert rule["properties"]["security-severity"] == "9.5"
    assert "external/cwe/cwe-89" in rule["properties"]["tags"]
    static = next(r for r in results if r["ruleId"] == "B110")
    assert static["level"] == "note"
    assert len(static["partialFingerprints"]["auditbot/v1"]) == 32  # computed when absent
    dismissed = next(r for r in results if r["properties"]["status"] == "false_positive")
    assert dismissed["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "test data"}]
    assert run["versionControlProvenance"][0] == {
        "repositoryUri": "https://github.com/acme/shop", "revisionId": "2" * 40,
        "branch": "feature/login"}
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any("size limit" in n["message"]["text"] for n in notes)


def test_paths_become_relative_uris() -> None:
    from bot.findings import Finding
    from bot.reports import ReportFinding

    finding = Finding(path="/src/dir with space/a#b.py", start_line=1, end_line=1,
                      severity="info", category="other", title="t", message="m",
                      source="static:x")
    log = render_sarif(Report.build(TaskInfo(id="t", kind="local", status="succeeded"),
                                    [ReportFinding.of(finding)]))
    _validate(log)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"] == "src/dir%20with%20space/a%23b.py"
