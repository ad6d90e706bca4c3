"""Provider prompt caching, simulated: which part of a prompt a provider would bill as cached.

Shared by the loopback server (``organism.loopback``), which reports it in each response's usage, and the
cost estimate (``analysis.estimate``), which calls no server. Tokens are characters / 4, as everywhere in
the suite (``organism.behaviour.approx_tokens``).

- OpenAI (automatic prefix caching, as documented): prompts of at least 1,024 tokens are cached in
  128-token blocks; a request's cached tokens are its longest block-aligned prefix already seen for that
  model.
- Anthropic (explicit breakpoints, ``BreakpointCache``): the prefix ending at a block marked
  ``cache_control`` is written (billed as a cache write) and read back by later requests (a cache read).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

CACHE_MIN_TOKENS = 1024
CACHE_BLOCK_TOKENS = 128
CHARS_PER_TOKEN = 4


class PrefixCache:
    """Which block-aligned prompt prefixes each model has seen (OpenAI-style automatic caching)."""

    def __init__(self) -> None:
        self.seen: dict[str, set[bytes]] = defaultdict(set)

    def lookup_and_add(self, model: str, text: str) -> int:
        """Cached tokens for this prompt; records its prefixes for later requests."""
        block = CACHE_BLOCK_TOKENS * CHARS_PER_TOKEN
        if len(text) < CACHE_MIN_TOKENS * CHARS_PER_TOKEN:
            return 0
        seen, h, cached = self.seen[model], hashlib.sha256(), 0
        for end in range(block, len(text) + 1, block):
            h.update(text[end - block : end].encode())
            digest = h.copy().digest()
            if digest in seen:
                cached = end
            else:
                seen.add(digest)
        return cached // CHARS_PER_TOKEN if cached >= CACHE_MIN_TOKENS * CHARS_PER_TOKEN else 0


ANTHROPIC_MIN_TOKENS = 1024  # Claude Opus and Sonnet models; Haiku models cache from 2,048 tokens
ANTHROPIC_HAIKU_MIN_TOKENS = 2048
ANTHROPIC_LOOKBACK_BLOCKS = 20


def anthropic_min_tokens(model: str) -> int:
    return ANTHROPIC_HAIKU_MIN_TOKENS if "haiku" in model else ANTHROPIC_MIN_TOKENS


class BreakpointCache:
    """Anthropic-style prompt caching: explicit breakpoints (``cache_control`` on a content block).

    A request's prompt is a list of blocks (tools, then system, then messages, in order). The prefix ending
    at a marked block is written to the cache when it is at least the model's minimum length; a later
    request reads the longest prefix, ending at one of its block boundaries at most 20 blocks before one of
    its breakpoints, that an earlier request wrote and that was written before this request arrived (an
    entry becomes readable only once the request that wrote it has been answered, so votes sent all at once
    all miss). Returns the tokens read and written; the rest of the prompt is billed as plain input.
    """

    def __init__(self) -> None:
        self.written: dict[str, dict[bytes, float]] = defaultdict(dict)  # model -> prefix digest -> when written

    def lookup_and_add(self, model: str, blocks: list[tuple[str, bool]], arrived: float, now: float) -> tuple[int, int]:
        """(cache read tokens, cache write tokens) for a prompt of (text, marked) blocks."""
        minimum = anthropic_min_tokens(model) * CHARS_PER_TOKEN
        written = self.written[model]
        digests, ends, h, end = [], [], hashlib.sha256(), 0
        for text, _ in blocks:
            h.update(text.encode())
            h.update(b"\x00")
            end += len(text)
            digests.append(h.copy().digest())
            ends.append(end)
        marks = [i for i, (_, marked) in enumerate(blocks) if marked]
        if not marks:
            return 0, 0
        candidates = {j for i in marks for j in range(max(0, i - ANTHROPIC_LOOKBACK_BLOCKS), i + 1)}
        read = max((ends[j] for j in candidates if written.get(digests[j], now) < arrived), default=0)
        last = ends[marks[-1]]
        write = last - read if last >= minimum and last > read else 0
        for i in marks:
            if ends[i] >= minimum:
                written.setdefault(digests[i], now)
        return read // CHARS_PER_TOKEN, write // CHARS_PER_TOKEN
