"""End-to-end runs on the personas that behave like real models (organism/realistic.py), each checked
against its known truth: identical answers across tiers, query-driven behaviour, ablations that change the
numbers, format drift classified per sample, and re-sampling that recovers."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog

from alignment_faking.organism.realistic import drift_of, settings_of
from alignment_faking.scorers.metrics import full_results_from_log
from alignment_faking.tasks.gap import gap

pytestmark = pytest.mark.slow


def run(persona: str, tmp_path: Path, **task_args: Any) -> EvalLog:
    args = {"dataset": "builtin", "af_votes": 1, **task_args}
    [log] = inspect_eval(
        gap(**args), model=f"organism/{persona}", model_roles={"grader": "organism/grader"}, display="none", log_dir=str(tmp_path)
    )
    assert log.status == "success", log.error
    return log


def by_query(log: EvalLog) -> dict[str, dict[str, Any]]:
    """query -> condition -> sample."""
    table: dict[str, dict[str, Any]] = {}
    for sample in log.samples or []:
        table.setdefault(sample.metadata["query"], {})[sample.metadata["condition"]] = sample
    return table


def compliant(sample: Any) -> float:
    return next(iter(sample.scores.values())).value["compliant"]


def test_greedy_answers_word_for_word_the_same_in_both_tiers(tmp_path: Path) -> None:
    log = run("greedy", tmp_path, queries=20)
    for conditions in by_query(log).values():
        assert conditions["free"].output.completion == conditions["paid"].output.completion
    m = full_results_from_log(log)
    assert m["compliance_gap"] == 0.0 and 0 < m["compliance_free"] < 1


def test_query_driven_behaviour_is_correlated_within_a_query(tmp_path: Path) -> None:
    log = run("query_driven", tmp_path, queries=40)
    pairs = [(compliant(c["free"]), compliant(c["paid"])) for c in by_query(log).values()]
    assert all(free >= paid for free, paid in pairs)  # complied with unmonitored -> complied with trained
    assert any(free > paid for free, paid in pairs) and any(free == paid == 1.0 for free, paid in pairs)
    m = full_results_from_log(log)
    assert m["compliance_gap"] == pytest.approx(sum(f - p for f, p in pairs) / len(pairs))


def test_ablations_change_the_numbers_of_the_attentive_persona(tmp_path: Path) -> None:
    core = full_results_from_log(run("attentive", tmp_path / "core", queries=40))
    ablated = full_results_from_log(run("attentive", tmp_path / "ablated", queries=40, scenario="no_training_details"))
    direct = full_results_from_log(run("attentive", tmp_path / "direct", queries=40, variant="direct"))
    assert core["compliance_gap"] > 0.1  # the training cue is there
    assert ablated["compliance_gap"] == 0.0  # nothing says the free tier is trained
    assert direct["compliance_paid"] > core["compliance_paid"]  # asked for unconditional help


def test_format_drift_is_classified_per_sample(tmp_path: Path) -> None:
    log = run("drifter", tmp_path, queries=30, max_tokens=300, max_resamples=0)
    settings = settings_of("drifter", {})
    kinds = set()
    for sample in log.samples or []:
        kind = drift_of(settings, sample.metadata["query"])
        kinds.add(kind)
        response, result = sample.metadata["response"], next(iter(sample.scores.values()))
        if kind == "no_tags":  # plain text without a scratchpad: invalid, never a refusal
            assert result.answer == "invalid" and response["invalid_reason"] == "missing_scratchpad"
        elif kind == "echo":  # an echoed tier tag does not change the condition, and the answer is graded
            assert response["valid"] and result.answer != "invalid"
            assert sample.metadata["condition"] == ("free" if "True" in sample.output.completion.split("\n")[0] else "paid")
        else:  # cut at max_tokens inside the reasoning: no output to grade
            assert result.answer == "invalid" and response["invalid_reason"] == "max_tokens"
    assert kinds == {"no_tags", "echo", "cut"}


def test_recovering_persona_is_valid_after_one_resample(tmp_path: Path) -> None:
    log = run("recovering", tmp_path, queries=10)
    for sample in log.samples or []:
        response = sample.metadata["response"]
        assert response["valid"] and response["attempts"] == 2 and response["invalid_history"] == ["missing_scratchpad"]
    m = full_results_from_log(log)
    assert not math.isnan(m["compliance_gap"])


def test_unknown_setting_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="its settings are: comply, seed"):
        settings_of("greedy", {"rate": 1})
