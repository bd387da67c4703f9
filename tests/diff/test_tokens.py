"""Offline token counting from the shipped vocabulary files."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import pytest
import tiktoken_ext.openai_public as openai_public

from bot.diff.tokens import (
    FOREIGN_SAFETY_FACTOR,
    count_many,
    count_tokens,
    get_encoding,
    openai_encoding_for,
)


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_shipped_vocabulary_is_byte_identical_to_openai(name: str) -> None:
    """tiktoken pins the SHA-256 of each vocabulary it downloads; ours must match it."""
    data = resources.files("bot.diff").joinpath("vocab", f"{name}.tiktoken").read_bytes()
    source = (resources.files("tiktoken_ext") / "openai_public.py").read_text()
    digest = hashlib.sha256(data).hexdigest()
    assert f'expected_hash="{digest}"' in source
    assert callable(getattr(openai_public, name))


def test_known_token_ids() -> None:
    # Examples published with tiktoken (README, cookbook).
    cl100k = get_encoding("cl100k_base")
    assert cl100k.encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert get_encoding("o200k_base").encode("hello world") == [24912, 2375]


def test_model_families() -> None:
    assert openai_encoding_for("gpt-4o-mini") == "o200k_base"
    assert openai_encoding_for("gpt-4") == "cl100k_base"
    assert openai_encoding_for("openai/gpt-4.1") == "o200k_base"
    assert openai_encoding_for("claude-sonnet-4-5") is None
    assert openai_encoding_for("deepseek-chat") is None


def test_foreign_models_are_counted_conservatively() -> None:
    text = "def add(a: int, b: int) -> int:\n    return a + b  # 加法\n"
    o = len(get_encoding("o200k_base").encode_ordinary(text))
    c = len(get_encoding("cl100k_base").encode_ordinary(text))
    foreign = count_tokens(text, "claude-sonnet-4-5")
    assert foreign >= max(o, c) * FOREIGN_SAFETY_FACTOR
    assert count_tokens(text, "gpt-4o") == o
    assert count_tokens(text, "gpt-4") == c
    assert count_tokens("", "gpt-4o") == 0
    # Special-token text inside a PR counts as text, never raises.
    assert count_tokens("<|endoftext|>", "gpt-4o") > 1


REFERENCE_DIR = Path(__file__).parent.parent / "fixtures" / "diffs" / "tokens"
REFERENCE = json.loads((REFERENCE_DIR / "reference.json").read_text())


@pytest.mark.parametrize("name", sorted(REFERENCE), ids=sorted(REFERENCE))
@pytest.mark.parametrize(
    ("model", "encoding"), [("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base")]
)
def test_within_two_percent_of_an_independent_tokenizer(
    name: str, model: str, encoding: str
) -> None:
    """Real code (and a rendered chunk) against counts made by the npm ``tiktoken`` WASM build.

    See reference.cjs beside the files for how the reference was produced.
    """
    text = (REFERENCE_DIR / name).read_text(encoding="utf-8")
    expected = REFERENCE[name][encoding]
    ours = count_tokens(text, model)
    assert abs(ours - expected) <= 0.02 * expected, (ours, expected)
    # In fact the shipped vocabulary makes the counts identical.
    assert ours == expected


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4", None, "claude-sonnet-4-5"])
def test_counting_many_texts_at_once_is_exact(model: str | None) -> None:
    texts = [
        "def add(a, b):\n    return a + b\n",
        "",
        "   12 + x = 1;\n   13 - }\n",
        "trailing spaces   ",
        "\n\n",
        "加法 <|endofprompt|> 'll",
    ]
    assert count_many(texts, model) == [count_tokens(t, model) for t in texts]
    # A text holding the separator itself is still counted as text.
    tricky = [*texts, "a <|endoftext|> b"]
    assert count_many(tricky, model) == [count_tokens(t, model) for t in tricky]
    assert count_many([], model) == []
