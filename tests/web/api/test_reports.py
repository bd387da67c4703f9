"""A stored task's report through the API in its four formats."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from tests.web.api.conftest import Api

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text()
)


def test_report_in_four_formats(api: Api) -> None:
    project = api.project("acme/api")
    task = api.task(project, head_sha="7" * 40, pr_number=9, model="deepseek/deepseek-chat",
                    input_tokens=500, partial_reason="budget reached",
                    progress={"skipped": [{"path": "img/logo.png", "reason": "binary"}]})
    api.finding(task, severity="medium", category="bug", title="Off by one",
                path="lib/range.py", quote="for i in range(len(x) + 1):", rule_id="OB1")
    api.finding(task, severity="info", category="style", title="Naming", path="lib/a.py",
                status="wont_fix", status_reason="legacy")
    client = api.as_user(api.user(admin=True))
    url = f"/api/v1/tasks/{task.id}/report"

    as_json = client.get(url)
    assert as_json.headers["content-type"] == "application/json"
    body = as_json.json()
    assert body["task"]["project"] == "acme/api"
    assert body["task"]["partial_reason"] == "budget reached"
    assert body["counts"] == {"critical": 0, "high": 0, "medium": 1, "low": 0, "info": 0}
    assert [f["title"] for f in body["findings"]] == ["Off by one", "Naming"]
    assert body["findings"][0]["quote"] == "for i in range(len(x) + 1):"
    assert body["skipped"] == [{"path": "img/logo.png", "reason": "binary"}]

    sarif = client.get(url, params={"format": "sarif"})
    assert sarif.headers["content-type"] == "application/sarif+json"
    jsonschema.Draft4Validator(SCHEMA).validate(sarif.json())
    results = sarif.json()["runs"][0]["results"]
    assert results[0]["ruleId"] == "OB1"
    assert results[1]["suppressions"][0]["justification"] == "legacy"

    markdown = client.get(url, params={"format": "markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "## `lib/range.py`" in markdown.text

    html = client.get(url, params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "Off by one" in html.text
    assert "default-src 'none'" in html.headers["content-security-policy"]
    assert client.get(url, params={"format": "pdf"}).status_code == 422
