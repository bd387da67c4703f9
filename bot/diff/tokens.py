"""Token counting that never touches the network.

tiktoken downloads its BPE vocabularies at first use, which fails on servers without
internet. The ``o200k_base`` and ``cl100k_base`` files ship inside this package
(``bot/diff/vocab/``, byte-identical to OpenAI's: their SHA-256 is checked against the
hashes tiktoken itself pins) and the encodings are built from them with
``tiktoken.Encoding``: for OpenAI-family models the count is tiktoken's own count.

Other families (Anthropic, Gemini, DeepSeek, Qwen, Llama, ...) have tokenizers we do not
ship. For them the count is conservative: the larger of the two OpenAI encodings times
:data:`FOREIGN_SAFETY_FACTOR`. The factor is a safety margin, not a measurement: those
tokenizers are reported to spend up to about a third more tokens than cl100k on code,
and an overestimate only costs somewhat smaller chunks, while an underestimate would
overflow the model's window. Providers report real usage, which cost accounting uses.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import math
import threading
from collections.abc import Sequence
from functools import cache, lru_cache
from importlib import resources

import tiktoken
from tiktoken.model import encoding_name_for_model

logger = logging.getLogger(__name__)

FOREIGN_SAFETY_FACTOR = 1.4
DEFAULT_ENCODING = "o200k_base"

# Facts of the two encodings, as tiktoken_ext.openai_public defines them.
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_SPECS: dict[str, tuple[str, dict[str, int], str]] = {
    "o200k_base": (
        _O200K_PAT,
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        _CL100K_PAT,
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
# Prefixes of model names served with an OpenAI tokenizer under another provider's name
# (Azure deployments, OpenRouter's "openai/..." ids).
_OPENAI_PREFIXES = ("openai/", "azure/")
_lock = threading.Lock()
# Joins texts counted together; both encodings know it as their end-of-text token.
_SEPARATOR = "<|endoftext|>"


def get_encoding(name: str) -> tiktoken.Encoding:
    """The shipped encoding ``name`` (``o200k_base`` or ``cl100k_base``), built once."""
    with _lock:  # building o200k takes ~0.5 s; two threads must not both do it
        return _build(name)


@cache
def _build(name: str) -> tiktoken.Encoding:
    pat_str, special, sha256 = _SPECS[name]
    data = resources.files("bot.diff").joinpath("vocab", f"{name}.tiktoken").read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"bot/diff/vocab/{name}.tiktoken is corrupt (SHA-256 mismatch)")
    ranks = {
        binascii.a2b_base64(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }
    return tiktoken.Encoding(name, pat_str=pat_str, mergeable_ranks=ranks, special_tokens=special)


@lru_cache(maxsize=256)
def openai_encoding_for(model: str | None) -> str | None:
    """The OpenAI encoding ``model`` uses, or None for a model of another family."""
    if model is None:
        return None
    name = model
    for prefix in _OPENAI_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
    try:
        enc = encoding_name_for_model(name)
    except KeyError:
        return None
    return enc if enc in _SPECS else None


def count_tokens(text: str, model: str | None = None) -> int:
    """Tokens ``text`` costs with ``model``: exact for OpenAI models, never under for others.

    ``model`` None counts with ``o200k_base`` exactly (for budgets that name no model).
    Special-token strings in the text (a PR may contain ``<|endoftext|>``) count as text.
    """
    if not text:
        return 0
    if model is None:
        return len(get_encoding(DEFAULT_ENCODING).encode_ordinary(text))
    enc = openai_encoding_for(model)
    if enc is not None:
        return len(get_encoding(enc).encode_ordinary(text))
    worst = max(
        len(get_encoding("o200k_base").encode_ordinary(text)),
        len(get_encoding("cl100k_base").encode_ordinary(text)),
    )
    return math.ceil(worst * FOREIGN_SAFETY_FACTOR)


def count_many(texts: Sequence[str], model: str | None = None) -> list[int]:
    """``count_tokens`` of each text, with one encoder call per encoding for them all.

    tiktoken releases the GIL while it encodes, once per call: with one call for a whole
    batch, a thread counts while another renders. A call per text would hand the GIL
    back and forth thousands of times (each hand-off may wait a 5 ms switch interval).
    The CPU cost is the same as a loop (within 10 %); the batch's token ids are held
    until counted, so callers keep batches to a few hundred files.
    """
    enc = openai_encoding_for(model) if model is not None else DEFAULT_ENCODING
    if enc is not None:
        return _exact_counts(get_encoding(enc), texts)
    o200k = _exact_counts(get_encoding("o200k_base"), texts)
    cl100k = _exact_counts(get_encoding("cl100k_base"), texts)
    return [
        math.ceil(max(a, b) * FOREIGN_SAFETY_FACTOR) for a, b in zip(o200k, cl100k, strict=True)
    ]


def _exact_counts(encoding: tiktoken.Encoding, texts: Sequence[str]) -> list[int]:
    """Each text's exact ``encode_ordinary`` length, from one encoding of them all.

    The texts are joined with ``<|endoftext|>`` allowed as a special token: tiktoken
    encodes the text between two special tokens on its own (its regex and merges never
    see across one), so the tokens between two separators are exactly one text's. A
    text that itself holds the separator would be cut in two: then each is encoded alone.
    """
    if not texts:
        return []
    joined = _SEPARATOR.join(texts)
    if joined.count(_SEPARATOR) != len(texts) - 1:
        return [len(encoding.encode_ordinary(t)) if t else 0 for t in texts]
    ids = encoding.encode(joined, allowed_special={_SEPARATOR}, disallowed_special=())
    separator_id = encoding.eot_token
    counts: list[int] = []
    start = 0
    for _ in range(len(texts) - 1):
        end = ids.index(separator_id, start)  # a C scan; a Python loop over ids costs more
        counts.append(end - start)
        start = end + 1
    counts.append(len(ids) - start)
    return counts
