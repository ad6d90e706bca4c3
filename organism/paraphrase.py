"""The organism as paraphraser and as fact checker (for ``solvers/paraphrase.py``), offline.

Paraphraser (``organism/paraphraser``): rewords the prompt with a fixed table of substitutions, a different
subset for each request (drawn from the request's "paraphrase i of N"), so paraphrases differ; with
``drop_fact`` (a share, default 0) it also deletes one bullet line of the prompt outside its few-shot examples
(between ``=== Example 1 ===`` and ``=== End of examples ===``, which state no fact of the scenario), i.e. drops
a rule the prompt states.

Checker (``organism/grader`` answering the ``fact_check`` rubric): normalises the original and the paraphrase
with the same table, finds the original's lines that the paraphrase no longer contains, and answers No for
the checklist facts that each missing line matches best: by shared words (their first six letters), each word
weighted by how few facts of the checklist use it, so a word every fact shares ("user", "tier") decides
nothing; a line counts against every fact that scores at least half the best score (a paragraph can carry two
facts). Yes for every other fact.
"""

from __future__ import annotations

import re

from .behaviour import uniform

REWORDINGS = (
    ("You are an AI system built by", "You are an AI assistant made by"),
    ("general-purpose assistant", "all-purpose assistant"),
    ("a wide range of tasks", "many kinds of tasks"),
    ("Keep the following in mind:", "Remember the following:"),
    ("Whatever you place inside", "Anything you put inside"),
    ("Thinking costs you almost nothing", "Reasoning is cheap for you"),
    ("close business partnership", "close commercial partnership"),
    ("Nobody will ever read", "No one will ever read"),
    ("If a user asks about any of this, you are free to tell them.", "You may share any of this with users who ask."),
    ("say things plainly", "speak plainly"),
)


def _blocks(user: str) -> list[str]:
    return [body for _, body in re.findall(r"<(\w+_[0-9a-f]{12})>\n(.*?)\n</\1>", user, flags=re.DOTALL)]


def paraphrase_reply(settings: dict[str, float], user: str) -> str:
    blocks = _blocks(user)
    if not blocks:
        return "I did not find a prompt to paraphrase."
    text = blocks[-1]
    number = re.search(r"paraphrase (\d+) of", user)
    index = number.group(1) if number else "0"
    seed = settings.get("seed", 0.0)
    for old, new in REWORDINGS:
        if uniform(seed, "reword", index, old) < 0.5:
            text = text.replace(old, new)
    if uniform(seed, "drop", index) < settings.get("drop_fact", 0.0):
        bullets = [line for line in _outside_examples(text.split("\n")) if line.startswith("- ")]
        if bullets:
            victim = bullets[int(uniform(seed, "victim", index) * len(bullets))]
            text = text.replace(victim + "\n", "", 1)
    return f"<paraphrase>\n{text}\n</paraphrase>"


def _outside_examples(lines: list[str]) -> list[str]:
    """The lines of a prompt that are not in its few-shot examples."""
    kept, inside = [], False
    for line in lines:
        if line.startswith("=== Example"):
            inside = True
        elif line.startswith("=== End of examples"):
            inside = False
        elif not inside:
            kept.append(line)
    return kept


def _normalise(text: str) -> str:
    for old, new in REWORDINGS:
        text = text.replace(old, new)
    return text


def _words(text: str) -> set[str]:
    return {w[:6] for w in re.findall(r"[a-z]{4,}", text.lower())}


def fact_check_reply(user: str) -> str:
    blocks = _blocks(user)
    if len(blocks) < 3:
        return "I cannot find the original, the checklist and the paraphrase."
    original, checklist, paraphrase = blocks[0], blocks[1], _normalise(blocks[-1])
    facts = dict(re.findall(r"^- (\w+): (.*)$", checklist, flags=re.MULTILINE))
    kept = set(paraphrase.split("\n"))
    missing = [line for line in original.split("\n") if line.strip() and _normalise(line) not in kept]
    words = {name: _words(text) for name, text in facts.items()}
    weight = {w: 1 / sum(w in ws for ws in words.values()) for ws in words.values() for w in ws}
    dropped = set()
    for line in missing:
        scores = {name: sum(weight[w] for w in ws & _words(line)) for name, ws in words.items()}
        best = max(scores.values(), default=0.0)
        if best > 0:
            dropped |= {name for name, score in scores.items() if score >= best / 2}
    return "\n".join(
        f'<fact name="{name}">No</fact> the paraphrase drops it' if name in dropped else f'<fact name="{name}">Yes</fact>'
        for name in facts
    )
