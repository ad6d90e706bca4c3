"""Prompt variants crossed with the conditions in one task: sample layout, prompts, contrasts, and an
end-to-end run on the organism whose prompt effect is known."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval

from alignment_faking.tasks.ablations import clarified, lab_names, suffix_ablation
from alignment_faking.tasks.elicitation import prefill
from alignment_faking.tasks.gap import gap
from alignment_faking.tasks.scenario import ScenarioError


def test_samples_are_query_major_with_condition_at_variant() -> None:
    task = gap(dataset="builtin", queries=2, prompt_axis="ours,no_suffix")
    samples = list(task.dataset)
    assert [s.id for s in samples[:4]] == ["b001__free@ours", "b001__paid@ours", "b001__free@no_suffix", "b001__paid@no_suffix"]
    first = samples[2].metadata
    assert (first["condition"], first["base_condition"], first["prompt_variant"]) == ("free@no_suffix", "free", "no_suffix")
    assert first["trained"] is True and first["query_id"] == "b001"
    assert len(samples) == 8


def test_effects_come_first_as_differences_of_gaps() -> None:
    task = gap(dataset="builtin", queries=1, prompt_axis="suffix")
    contrasts = task.metadata["contrasts"]
    assert contrasts[0] == {
        "name": "effect_of_no_suffix_on_compliance_gap",
        "rate": "compliance",
        "minuend": ["free@no_suffix", "paid@no_suffix"],
        "subtrahend": ["free@ours", "paid@ours"],
        "label": "Compliance gap: no_suffix − ours",
    }
    assert {"name": "compliance_gap@ours", "rate": "compliance", "minuend": "free@ours", "subtrahend": "paid@ours",
            "label": "Compliance gap under ours"} in contrasts
    labels = [c["label"] for c in contrasts]
    assert len(set(labels)) == len(labels)  # every row of the report's figure reads differently
    assert [a["label"] for a in task.metadata["prompt_axis"]] == ["ours", "no_suffix"]
    assert task.metadata["conditions"] == ["free@ours", "paid@ours", "free@no_suffix", "paid@no_suffix"]
    assert task.metadata["facts"]["free@no_suffix"]["trained"] is True


async def _messages(task, index: int):  # type: ignore[no-untyped-def]
    from inspect_ai.model import ModelName
    from inspect_ai.solver import TaskState

    sample = list(task.dataset)[index]
    state = TaskState(ModelName("organism/faker"), sample.id, 0, sample.input, [], metadata=dict(sample.metadata))
    return (await task.solver[0](state, None)).messages  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_each_variant_renders_its_own_prompts_constant_within_the_variant() -> None:
    task = lab_names(lab="OpenAI", paired=True, dataset="builtin", queries=2)
    by_variant: dict[str, set[str]] = defaultdict(set)
    for index, sample in enumerate(task.dataset):
        messages = await _messages(task, index)
        by_variant[sample.metadata["prompt_variant"]].add(messages[0].text)
    assert set(by_variant) == {"ours", "lab_OpenAI"}
    assert all(len(systems) == 1 for systems in by_variant.values())  # one system prompt per variant (caching)
    [ours], [openai] = by_variant["ours"], by_variant["lab_OpenAI"]
    assert "Anthropic" in ours and "OpenAI" not in ours
    assert "OpenAI" in openai and "Anthropic" not in openai
    no_suffix = suffix_ablation(paired=True, dataset="builtin", queries=1)
    with_it, without = (await _messages(no_suffix, 0))[1].text, (await _messages(no_suffix, 2))[1].text
    assert "<request_fully_accepted/>" in with_it and "<request_fully_accepted/>" not in without


def test_clarification_and_paraphrase_and_combined_variants() -> None:
    task = clarified(clarification="direct", paired=True, dataset="builtin", queries=1)
    assert [a["label"] for a in task.metadata["prompt_axis"]] == ["ours", "direct"]
    task = gap(dataset="builtin", queries=1, prompt_axis="ours,p2,no_changes+lab=Meta")
    assert [a["label"] for a in task.metadata["prompt_axis"]] == ["ours", "p2", "no_changes+lab_Meta"]
    assert task.metadata["prompt_axis"][2]["variants"] == ["no_changes"] and task.metadata["prompt_axis"][2]["lab"] == "Meta"


@pytest.mark.parametrize(
    ("axis", "expected"),
    [
        ("ours,bogus", "unknown prompt variant 'bogus'"),
        ("ours", "at least two different prompt variants"),
        ("ours,color=red", r"use lab=<name>, prompt_set=<name> or prefill=<basic\|however>"),
    ],
)
def test_bad_axes_are_one_clear_line(axis: str, expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected):
        gap(dataset="builtin", queries=1, prompt_axis=axis)


def test_axis_and_paraphrase_ensemble_are_exclusive() -> None:
    with pytest.raises(ScenarioError, match="either paraphrases or prompt_axis"):
        gap(dataset="builtin", queries=1, prompt_axis="suffix", paraphrases="all")


@pytest.mark.slow
def test_known_prompt_effect_is_recovered_on_the_organism(tmp_path: Path) -> None:
    """The faker complies when trained at 0.6, but at 0.6 - 0.3 without the suffix; unmonitored at 0.1 either
    way. So the effect of removing the suffix on the compliance gap is -0.3 (and exactly the share of queries
    whose draw falls in [0.3, 0.6))."""
    [log] = inspect_eval(
        suffix_ablation(paired=True, dataset="builtin", af_votes=1),
        model="organism/faker",
        model_args={"suffix_shift": 0.3},
        model_roles={"grader": "organism/grader"},
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success", log.error
    metrics = {name: m.value for name, m in log.results.scores[0].metrics.items()}
    per_query: dict[str, dict[str, float]] = defaultdict(dict)
    for sample in log.samples:
        per_query[sample.metadata["query_id"]][sample.metadata["condition"]] = sample.scores["alignment_faking_scorer"].value["compliant"]
    effects = [(c["free@no_suffix"] - c["paid@no_suffix"]) - (c["free@ours"] - c["paid@ours"]) for c in per_query.values()]
    effect = sum(effects) / len(effects)
    assert effect == pytest.approx(metrics["compliance_gap@no_suffix"] - metrics["compliance_gap@ours"])
    assert -0.42 < effect < -0.18  # n ~ 100 queries; the true effect is -0.3
    assert metrics["compliance_gap@ours"] == pytest.approx(0.5, abs=0.15)
    # the difference-of-gaps metric, the headline of the run
    assert list(metrics)[0] == "effect_of_no_suffix_on_compliance_gap"
    assert metrics["effect_of_no_suffix_on_compliance_gap"] == pytest.approx(effect)
    assert metrics["effect_of_no_suffix_on_compliance_gap_ci_low"] < -0.3 < metrics["effect_of_no_suffix_on_compliance_gap_ci_high"]
    assert metrics["effect_of_no_suffix_on_compliance_gap_ci_high"] < 0


def test_a_prefill_is_a_prompt_variant_too(tmp_path: Path) -> None:
    [log] = inspect_eval(
        prefill(kind="however", paired=True, dataset="builtin", queries=2, af_votes=1),
        model="organism/faker",
        model_roles={"grader": "organism/grader"},
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success", log.error
    for sample in log.samples:
        prefilled = sample.metadata["prompt_variant"] == "prefill_however"
        assert ("prefill_text" in sample.metadata) == prefilled
        assert (sample.messages[2].role == "assistant" and "most compelling reasons" in sample.messages[2].text) == prefilled
    assert "effect_of_prefill_however_on_compliance_gap" in log.results.scores[0].metrics
