"""Reading model answers tolerantly, and the answer schema's normalisations."""

from __future__ import annotations

import json

import pytest

from bot.analysis.answer import ModelAnswer, ModelFinding, OutputError, parse_answer
from bot.llm.structured import cut_at_last_complete_item, schema_instructions
from tests.fakes.fake_openai import DEFAULT_FINDINGS

GOOD = json.dumps({"findings": DEFAULT_FINDINGS})


@pytest.mark.parametrize(
    ("text", "repair"),
    [
        (GOOD, None),
        (f"```json\n{GOOD}\n```", "stripped code fence"),
        (f"```\n{GOOD}```", "stripped code fence"),
        (f"Sure! Here you go: {GOOD} Hope it helps.", "cut text around the JSON object"),
        (f"<think>the user wants JSON</think>\n{GOOD}", "removed reasoning block"),
        (json.dumps(DEFAULT_FINDINGS), "wrapped a bare list"),
    ],
    ids=["plain", "fence", "bare-fence", "prose", "think", "bare-list"],
)
def test_local_repairs(text: str, repair: str | None) -> None:
    answer, repairs = parse_answer(text)
    assert len(answer.findings) == 2
    assert (repair in repairs) if repair else repairs == ()


def test_truncated_answer_keeps_complete_items() -> None:
    truncated = GOOD[: GOOD.rfind('"title"')]
    answer, repairs = parse_answer(truncated)
    assert [f.path for f in answer.findings] == ["app/db.py"]
    assert repairs == ("cut after last complete item",)


def test_truncated_inside_a_string_with_brackets() -> None:
    text = '{"findings": [{"path": "a]}", "x": 1}, {"path": "b", "title": "unfinished [{'
    assert cut_at_last_complete_item(text) == '{"findings": [{"path": "a]}", "x": 1}]}'


def test_nothing_complete_is_an_error() -> None:
    with pytest.raises(OutputError, match="not valid JSON"):
        parse_answer('{"findings": [{"path": "app')
    with pytest.raises(OutputError, match="empty answer"):
        parse_answer("   ")


def test_wrong_shape_names_the_field() -> None:
    bad = {"findings": [dict(DEFAULT_FINDINGS[0], severity="catastrophic")]}
    with pytest.raises(OutputError, match=r"wrong shape: findings\.0\.severity"):
        parse_answer(json.dumps(bad))


def test_finding_normalisation_and_conversion() -> None:
    item = ModelFinding.model_validate({
        "path": "a.py", "start_line": 9, "end_line": 3, "severity": " HIGH ",
        "category": "Security", "cwe": 79, "title": "x" * 300, "message": "m",
    })
    assert (item.end_line, item.severity, item.category, item.cwe) == (9, "high", "security",
                                                                       "CWE-79")
    assert len(item.title) == 200
    finding = item.to_finding("llm:openai/gpt-4.1-mini")
    assert (finding.source, finding.start_line, finding.end_line) == (
        "llm:openai/gpt-4.1-mini", 9, 9)
    assert ModelFinding.model_validate(dict(DEFAULT_FINDINGS[0], cwe="n/a")).cwe is None


def test_schema_in_the_prompt_mentions_json() -> None:
    text = schema_instructions(ModelAnswer.model_json_schema())
    assert "JSON" in text and '"findings"' in text
