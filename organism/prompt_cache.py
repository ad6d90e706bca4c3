"""Provider prompt caching, simulated: which part of a prompt a provider would bill as cached.

Shared by the loopback server (``organism.loopback``), which reports it in each response's usage, and the
cost estimate (``analysis.estimate``), which calls no server. Tokens are characters / 4, as everywhere in
the suite (``organism.behaviour.approx_tokens``).

- OpenAI (automatic prefix caching, as documented): prompts of at least 1,024 tokens are cached in
  128-token blocks; a request's cached tokens are its longest block-aligned prefix already seen for that
  model.
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
