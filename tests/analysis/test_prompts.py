from __future__ import annotations

from bot.analysis.prompts import shared_prompt, system_prompt, user_prompt
from bot.findings import Category, Finding, Severity


def test_system_prompt_says_the_code_is_untrusted_and_sets_the_language() -> None:
    prompt = system_prompt("zh")
    assert "UNTRUSTED DATA" in prompt
    assert "Simplified Chinese" in prompt
    assert "English" in system_prompt("xx")


def test_user_prompt_fences_the_code_and_lists_hints() -> None:
    hint = Finding(
        path="a.py",
        start_line=3,
        end_line=3,
        severity=Severity.HIGH,
        category=Category.SECURITY,
        title="shell injection",
        message="m",
        source="static:py-shell",
        rule_id="py-shell",
    )
    text = user_prompt("3+ os.system(x)", hints=[hint])
    assert text.index("<<<UNTRUSTED CODE BEGINS>>>") < text.index("os.system(x)")
    assert text.rstrip().endswith("<<<UNTRUSTED CODE ENDS>>>")
    assert '"rule": "py-shell"' in text


def test_shared_prompt_carries_the_path_instructions_once() -> None:
    shared = shared_prompt([("src/api/**", "Check auth on handlers")])
    assert "- src/api/**: Check auth on handlers" in shared
    assert shared_prompt([]) == ""
