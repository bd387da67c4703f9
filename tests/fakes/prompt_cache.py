"""Provider prompt caching as the providers document it, for the fakes.

OpenAI (https://platform.openai.com/docs/guides/prompt-caching): automatic for prompts of
1,024 tokens or more; the cached part is the longest prefix already seen, in steps of 128
tokens from 1,024 on; requests are routed by a hash of the prompt's start, so only
prefixes seen before count. ``prompt_cache_key`` joins that routing hash.

Anthropic (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching): only up
to a ``cache_control`` breakpoint (tools, then system, then messages, in that order); a
prefix shorter than 1,024 tokens is not cached; a prefix seen before is read
(``cache_read_input_tokens``), otherwise written (``cache_creation_input_tokens``).

Token counts use the o200k encoding the project ships (exact for OpenAI's models, close
enough for the threshold elsewhere). A prefix is remembered once its request is answered:
two requests sent at once do not hit each other, as with the real services.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

from bot.diff.tokens import get_encoding

MIN_TOKENS = 1024
STEP = 128


def tokens_of(text: str) -> list[int]:
    return get_encoding("o200k_base").encode_ordinary(text)


class PromptCache:
    def __init__(self, min_tokens: int = MIN_TOKENS) -> None:
        self.min_tokens = min_tokens
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()

    def openai(self, parts: Sequence[str], key: str = "") -> tuple[int, int]:
        """(prompt tokens, cached tokens) of a prompt made of ``parts`` in order."""
        tokens = [t for part in parts for t in tokens_of(part)]
        digest = hashlib.sha256(key.encode())
        prefixes: list[bytes] = []
        done = 0
        for end in range(self.min_tokens, len(tokens) + 1, STEP):
            digest.update(repr(tokens[done:end]).encode())
            done = end
            prefixes.append(digest.copy().digest())
        cached = 0
        with self._lock:
            for index, prefix in enumerate(prefixes):
                if prefix not in self._seen:
                    break
                cached = self.min_tokens + index * STEP
            self._seen.update(prefixes)
        return len(tokens), cached

    def anthropic(self, blocks: Sequence[tuple[str, bool]]) -> tuple[int, int, int]:
        """(uncached input, cache read, cache written) for ``blocks`` of (text, breakpoint)."""
        total = 0
        digest = hashlib.sha256(b"anthropic")
        breakpoints: list[tuple[int, bytes]] = []
        for text, marked in blocks:
            tokens = tokens_of(text)
            total += len(tokens)
            digest.update(repr(tokens).encode())
            if marked:
                breakpoints.append((total, digest.copy().digest()))
        eligible = [(n, h) for n, h in breakpoints if n >= self.min_tokens]
        with self._lock:
            read = max((n for n, h in eligible if h in self._seen), default=0)
            self._seen.update(h for _, h in eligible)
        written = max((n for n, _ in eligible), default=0) - read
        return total - read - max(written, 0), read, max(written, 0)
