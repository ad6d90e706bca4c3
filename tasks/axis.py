"""Prompt axes: ``-T prompt_axis=`` crosses every condition with prompt variants in one run.

A value of the axis (a :class:`PromptVariant`) combines scenario variants, a paraphrase, a lab name, a published
prompt set and a prefill; ``axis_contrasts`` turns each scenario contrast into the effect of each variant on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from alignment_faking.tasks.scenario import AXIS_SEPARATOR, ORIGINAL_PROMPT, Contrast, Scenario, ScenarioError

REFERENCE_VARIANT = "ours"
"""The scenario's prompt as selected (with any ``-T variant``): the reference of a prompt axis."""
_AXIS_KEYS = ("lab", "prompt_set", "prefill")


@dataclass(frozen=True)
class PromptVariant:
    """One value of a prompt axis: a combination (``+``) of scenario variants, a paraphrase, a lab name
    (``lab=Name``), a published prompt set (``prompt_set=name``) and a prefill (``prefill=basic``, ``however``);
    ``ours`` is the scenario as selected."""

    label: str
    variants: tuple[str, ...] = ()
    paraphrase: str | None = None
    lab: str | None = None
    prompt_set: str | None = None
    prefill: str | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "x"


def parse_prompt_variant(text: str, scenario: Scenario) -> PromptVariant:
    variants: list[str] = []
    paraphrase = lab = prompt_set = prefill = None
    labels: list[str] = []
    for part in (p.strip() for p in text.split("+")):
        if part == REFERENCE_VARIANT or part == ORIGINAL_PROMPT:
            labels.append(part)
            continue
        key, eq, value = part.partition("=")
        if eq:
            if key not in _AXIS_KEYS or not value.strip():
                raise ScenarioError(
                    f"prompt variant '{part}': use lab=<name>, prompt_set=<name> or prefill=<basic|however> "
                    "(or a variant or paraphrase name)"
                )
            if key == "lab":
                lab = value.strip()
                labels.append(f"lab_{_slug(lab)}")
            elif key == "prefill":
                prefill = value.strip()
                labels.append(f"prefill_{_slug(prefill)}")
            else:
                prompt_set = value.strip()
                labels.append(_slug(prompt_set))
        elif part in scenario.variants:
            variants.append(part)
            labels.append(part)
        elif part in scenario.paraphrases:
            paraphrase = part
            labels.append(part)
        else:
            raise ScenarioError(
                f"unknown prompt variant '{part}' for scenario '{scenario.name}'; use {REFERENCE_VARIANT}, a variant "
                f"({', '.join(scenario.variants) or 'none'}), a paraphrase ({', '.join(scenario.paraphrases) or 'none'}), "
                "lab=<name>, prompt_set=<name>, prefill=<name>, or a combination joined by '+'"
            )
    return PromptVariant("+".join(labels), tuple(variants), paraphrase, lab, prompt_set, prefill)


def parse_prompt_axis(value: str | list[str], scenario: Scenario) -> list[PromptVariant]:
    """The prompt variants of ``-T prompt_axis=``: a named axis of the scenario (``prompt_axes``) or a comma
    list of variants. The first is the reference the others are compared with; ``ours`` is added first
    when it is not listed."""
    if isinstance(value, str) and value.strip() in scenario.prompt_axes:
        value = scenario.prompt_axes[value.strip()]
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if str(v).strip()]
    parsed = [parse_prompt_variant(item, scenario) for item in items]
    if not any(p.label == REFERENCE_VARIANT for p in parsed) and not (parsed and parsed[0].label == ORIGINAL_PROMPT):
        parsed.insert(0, PromptVariant(REFERENCE_VARIANT))
    labels = [p.label for p in parsed]
    if len(parsed) < 2 or len(set(labels)) != len(labels):
        raise ScenarioError(
            f"prompt_axis needs at least two different prompt variants, got {', '.join(labels)}; named axes of "
            f"scenario '{scenario.name}': {', '.join(scenario.prompt_axes) or 'none'}"
        )
    return parsed


def axis_contrasts(contrasts: Iterable[Contrast], labels: list[str]) -> list[dict[str, Any]]:
    """Contrasts over a prompt axis: for each scenario contrast K, the effect of each prompt variant on it,
    ``effect_of_<v>_on_<K>`` = K under v minus K under the reference (a difference of gaps, paired by query),
    listed first (the headline is the first), then K under each variant (``K@<v>``). Each has a label for people
    built from K's (the part before its colon): ``Compliance gap: no_suffix − ours``, ``Compliance gap under
    no_suffix``."""
    reference, others = labels[0], labels[1:]
    contrasts = list(contrasts)
    at = lambda condition, label: f"{condition}{AXIS_SEPARATOR}{label}"  # noqa: E731
    short = {c.name: (c.label or c.name.replace("_", " ")).split(":")[0] for c in contrasts}
    effects = [
        {
            "name": f"effect_of_{label}_on_{c.name}",
            "rate": c.rate,
            "minuend": [at(c.minuend, label), at(c.subtrahend, label)],
            "subtrahend": [at(c.minuend, reference), at(c.subtrahend, reference)],
            "label": f"{short[c.name]}: {label} − {reference}",
        }
        for c in contrasts
        for label in others
    ]
    per_variant = [
        {"name": f"{c.name}{AXIS_SEPARATOR}{label}", "rate": c.rate, "minuend": at(c.minuend, label), "subtrahend": at(c.subtrahend, label),
         "label": f"{short[c.name]} under {label}"}
        for c in contrasts
        for label in labels
    ]
    return effects + per_variant
