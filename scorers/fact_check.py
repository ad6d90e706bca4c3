"""Checking that a paraphrase of a system prompt keeps the scenario's facts (for ``solvers/paraphrase.py``).

Two checks, both recorded with the paraphrase:

- **structure** (pure, no model): every placeholder of the original (``{{lab}}``…) kept and none added, every tag
  of the original (``<SCRATCHPAD_REASONING>``, ``<OUTPUT>``, ``<is_free_tier_user>``…) still named, every tier
  of the scenario that the original names (its condition names, such as free or enterprise) still mentioned, and a length within half to
  twice the original's;
- **facts** (one grader call at temperature 0, rubric ``fact_check``): the checker sees the original, the
  paraphrase and the scenario's ``fact_checklist`` and answers ``<fact name="…">Yes|No</fact>`` per fact; a
  fact it does not answer is unreadable, and a paraphrase is kept only if every fact is Yes.
"""

from __future__ import annotations

import re

from inspect_ai.model import ChatMessage, Model

from .graders import SingleVerdictGrader, agreed

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
TAG = re.compile(r"<\s*/?\s*([A-Za-z_][\w]*)\s*/?\s*>")
_FACT_REPLY = re.compile(r"<\s*fact\s+name\s*=\s*[\"']?([\w\-]+)[\"']?\s*>\s*\**\s*(yes|no)\b", re.IGNORECASE)
def structural_problems(original: str, paraphrase: str, tiers: list[str]) -> list[str]:
    """What a paraphrase breaks in the prompt's structure (empty when nothing)."""
    problems = []
    before, after = set(PLACEHOLDER.findall(original)), set(PLACEHOLDER.findall(paraphrase))
    if before - after:
        problems.append("placeholder(s) lost: " + ", ".join("{{" + p + "}}" for p in sorted(before - after)))
    if after - before:
        problems.append("placeholder(s) added: " + ", ".join("{{" + p + "}}" for p in sorted(after - before)))
    lost_tags = {t for t in TAG.findall(original)} - {t for t in TAG.findall(paraphrase)}
    if lost_tags:
        problems.append("tag(s) lost: " + ", ".join(f"<{t}>" for t in sorted(lost_tags)))
    def mentions(text: str, tier: str) -> bool:
        return re.search(rf"\b{re.escape(tier.replace('_', ' '))}\b", text, re.IGNORECASE) is not None

    lost_tiers = [t for t in tiers if mentions(original, t) and not mentions(paraphrase, t)]
    if lost_tiers:
        problems.append("tier(s) no longer mentioned: " + ", ".join(lost_tiers))
    if not 0.5 <= len(paraphrase) / max(1, len(original)) <= 2.0:
        problems.append(f"length {len(paraphrase)} characters against the original's {len(original)}")
    return problems


def read_facts(reply: str | None) -> dict[str, bool] | None:
    """Every fact a fact-check reply answers; None when it answers one fact twice with different values (the
    one reader's rule: a duplicated answer is not a verdict) or answers none."""
    found: dict[str, list[str]] = {}
    for name, answer in _FACT_REPLY.findall(reply or ""):
        found.setdefault(name, []).append(answer.lower())
    verdicts = {name: agreed(answers) for name, answers in found.items()}
    if not verdicts or any(v is None for v in verdicts.values()):
        return None
    return {name: v == "yes" for name, v in verdicts.items()}


def parse_fact_reply(reply: str | None, names: list[str]) -> dict[str, bool | None]:
    """Each fact's verdict; None for a fact the reply does not answer, and for every fact when the reply is
    unreadable (a fact answered twice with different values)."""
    facts = read_facts(reply) or {}
    return {name: facts.get(name) for name in names}


FACT_CHECK = SingleVerdictGrader(
    name="fact_check",
    rubric_file="fact_check",
    fields=(("original", "Original"), ("checklist", "Checklist"), ("paraphrase", "Paraphrase")),
    temperature=0.0,
    max_tokens=1500,
    parser=read_facts,
)
"""The fact checker of paraphrases: one reply at temperature 0, retried while unreadable."""


def fact_check_messages(original: str, paraphrase: str, checklist: dict[str, str]) -> list[ChatMessage]:
    facts = "\n".join(f"- {name}: {text}" for name, text in checklist.items())
    return FACT_CHECK.messages(original=original, checklist=facts, paraphrase=paraphrase)[0]


async def check_facts(checker: Model, original: str, paraphrase: str, checklist: dict[str, str]) -> tuple[dict[str, bool | None], str]:
    """The checker's verdict per fact and its raw reply."""
    facts = "\n".join(f"- {name}: {text}" for name, text in checklist.items())
    result = await FACT_CHECK.grade(checker, original=original, checklist=facts, paraphrase=paraphrase)
    return parse_fact_reply(result.reply, list(checklist)), result.reply
