"""The task options: their typed values match the tables they name, and two logs compare score by score."""

from __future__ import annotations

import importlib.util
import inspect as pyinspect
import shutil
import sys
from pathlib import Path
from typing import get_args

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import list_eval_logs, read_eval_log, write_eval_log

from alignment_faking.published import OURS, PROMPT_SETS, RUBRIC_SETS, TIER_CASINGS
from alignment_faking.tasks.gap import gap
from alignment_faking.tasks.options import OPTION_NAMES, PromptSet, RubricSet, TaskOptions, TierCasing
from alignment_faking.tasks.scenario import ScenarioError

_SPEC = importlib.util.spec_from_file_location("benchmarks_compare_logs", Path(__file__).resolve().parent.parent / "benchmarks" / "compare_logs.py")
assert _SPEC is not None and _SPEC.loader is not None
compare_logs = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = compare_logs
_SPEC.loader.exec_module(compare_logs)
compare = compare_logs.compare


def test_the_literal_choices_are_the_published_tables() -> None:
    assert get_args(PromptSet) == (OURS, *PROMPT_SETS)
    assert get_args(RubricSet) == (OURS, *RUBRIC_SETS)
    assert get_args(TierCasing) == TIER_CASINGS


def test_gap_takes_every_option_with_the_options_defaults() -> None:
    # Inspect documents a task's -T parameters from its own signature: gap's must be the options, same defaults
    parameters = pyinspect.signature(gap).parameters
    assert [p for p in parameters if p not in ("scenario", "unknown")] == list(OPTION_NAMES)
    defaults = TaskOptions()
    assert all(parameters[name].default == getattr(defaults, name) for name in OPTION_NAMES)


def test_every_problem_is_named_in_one_line() -> None:
    with pytest.raises(ScenarioError) as error:
        TaskOptions.of("gap", 3, cot="maybe", queries=0, af_threshold=2, tier_casing="TRUE")
    message = str(error.value)
    assert "\n" not in message and message.startswith("invalid task parameter(s): ")
    for part in ("cot must be true or false, got 'maybe'", "queries must be a whole number >= 1, got 0",
                 "af_threshold must be a number in (0, 1], got 2", "tier_casing must be one of True, true, got 'TRUE'",
                 "scenario must be text (a name or a path), got 3"):
        assert part in message


def test_the_options_are_frozen() -> None:
    options = TaskOptions.of("gap", "core", af_votes=3)
    with pytest.raises(AttributeError):
        options.af_votes = 5  # type: ignore[misc]


def _run(folder: Path) -> None:
    inspect_eval(gap(dataset="builtin", queries=2, af_votes=1), model="organism/faker", model_roles={"grader": "organism/grader"},
                 display="none", log_dir=str(folder))


@pytest.mark.slow
def test_two_runs_compare_equal_and_a_changed_score_is_found(tmp_path: Path) -> None:
    _run(tmp_path / "a")
    _run(tmp_path / "b")
    same = compare(tmp_path / "a", tmp_path / "b")
    assert same.differences == [] and same.logs == 1 and same.samples == 4 and same.scores >= 4 and same.metrics > 10

    shutil.copytree(tmp_path / "b", tmp_path / "c")
    [info] = list_eval_logs(str(tmp_path / "c"))
    log = read_eval_log(info)
    sample = log.samples[0]  # type: ignore[index]
    score = next(iter(sample.scores.values()))  # type: ignore[union-attr]
    score.value = {**score.value, "compliant": 1 - score.value["compliant"]}  # type: ignore[dict-item, index, operator]
    write_eval_log(log, info.name)
    changed = compare(tmp_path / "a", tmp_path / "c")
    assert len(changed.differences) == 1 and f"{sample.id}#1/" in changed.differences[0]
