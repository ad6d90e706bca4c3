"""The battery as one eval-set, the cross-task parameter check, task names and one-line errors."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from inspect_ai import eval_set
from inspect_ai._eval.loader import load_tasks
from inspect_ai.log import list_eval_logs, read_eval_log

from alignment_faking.errors import SuiteError, one_line
from alignment_faking.tasks.options import check_parameter_names, suite_parameters
from alignment_faking.tasks.scenario import ScenarioError

REPO = Path(__file__).resolve().parents[1]
BATTERY = "tasks/battery.py"
TINY = {"dataset": "builtin", "queries": 1, "af_votes": 1}


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # task files are given relative to the repository, as in the README


@pytest.mark.slow
def test_every_battery_entry_builds_with_its_own_settings_and_shared_parameters() -> None:
    # -T version is predeployment's and -T kind is prefill's: every other task of the set ignores them
    tasks = {t.name: t for t in load_tasks([BATTERY], {**TINY, "version": "v2", "kind": "however", "cot": False})}
    assert len(tasks) == 21 and all(name.startswith("alignment_faking/") for name in tasks)
    assert list(tasks)[-2:] == ["alignment_faking/tool_selection", "alignment_faking/value_conflict"]  # the newer settings last
    assert all(tasks[f"alignment_faking/{n}"].epochs == 1 for n in ("tool_selection", "value_conflict"))
    meta = {name.split("/")[1]: t.metadata for name, t in tasks.items()}
    assert meta["predeployment_v1"]["scenario"] == "predeployment_v1" and meta["predeployment_v3"]["scenario"] == "predeployment_v3"
    assert meta["suffix_ablation"]["variants"] == ["no_suffix"] and meta["clarified_no_changes"]["variants"] == ["no_changes"]
    assert meta["five_tiers_swap"]["variants"] == ["swap_free_plus"] and meta["paraphrase_ensemble"]["paraphrases"] == ["p0", "p1", "p2", "p3"]
    newer = ("tool_selection", "value_conflict")  # their own parameters: a core -T such as cot is ignored with a warning
    assert all(m["cot"] is False for n, m in meta.items() if n not in newer)  # a shared -T reaches every task
    assert meta["gap"]["n_queries"] == 1 and all(m["dataset"] == "builtin" for n, m in meta.items() if not n.startswith("animal_welfare") and n not in newer)
    assert meta["animal_welfare"]["dataset"] == meta["animal_welfare_three_tiers"]["dataset"] == "welfare"  # its own queries
    assert meta["animal_welfare_ablations"]["dataset"] == "welfare"
    assert meta["tool_selection"]["data"]["source"].startswith("ours:")  # -T dataset=builtin: our scenarios, offline
    assert all(r["source"].startswith("ours:") for r in meta["value_conflict"]["data"].values())


def test_the_battery_runs_the_newer_settings_on_their_own_parameters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_faking.tasks.setting_data import DATASETS, SOURCE_ENV

    [task] = load_tasks([f"{BATTERY}@tool_selection"], {**TINY, "tools": "native"})
    assert task.name == "alignment_faking/tool_selection" and task.epochs == 1
    assert task.metadata["tools"] == "native" and task.metadata["data"]["source"].startswith("ours:")
    with pytest.raises(ScenarioError, match="unknown parameter\\(s\\) tols; .*did you mean tools for tols"):
        load_tasks([f"{BATTERY}@tool_selection"], {**TINY, "tols": "native"})
    clone = tmp_path / "tatemae-alignment-faking-detection" / "src"
    clone.mkdir(parents=True)
    (clone / "dataset.json").write_bytes((DATASETS / "tool_selection_ours.json").read_bytes())
    monkeypatch.setenv(SOURCE_ENV, str(tmp_path))
    [task] = load_tasks([f"{BATTERY}@tool_selection"], {"queries": 1})  # the core's default data: the published scenarios
    assert task.metadata["data"]["source"].startswith("local:") and task.metadata["data"]["path"] == "src/dataset.json"


def test_a_misspelt_name_still_stops_the_whole_set(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"unknown parameter\(s\) quries; .*did you mean queries for quries"):
        eval_set(BATTERY, model="organism/faker", task_args={"dataset": "builtin", "quries": 1}, log_dir=str(tmp_path), display="none")
    assert list_eval_logs(str(tmp_path)) == []


def test_another_tasks_parameter_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert "version" in suite_parameters() and "predeployment" in suite_parameters()["version"]
    with caplog.at_level(logging.WARNING):
        assert check_parameter_names("gap", ["version", "model"], ["queries"]) == []
    assert "gap ignores -T version: a parameter of predeployment" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        check_parameter_names("tool_selection", ["queries"], ["epochs"])
    [line] = [r.getMessage() for r in caplog.records]  # one short line, not every task that takes it
    assert line.startswith("tool_selection ignores -T queries: a parameter of ") and " other tasks, not of tool_selection" in line
    assert len(line) < 150
    assert check_parameter_names("gap", ["verison"], ["queries", "version"]) == [
        "unknown parameter(s) verison; the parameters are: queries, version; did you mean version for verison?"
    ]


def test_a_task_that_fixes_a_parameter_ignores_it_from_the_command_line() -> None:
    from alignment_faking.tasks.ablations import suffix_ablation
    from alignment_faking.tasks.elicitation import prefill

    assert suffix_ablation(variant="direct", **TINY).metadata["variants"] == ["no_suffix"]
    assert prefill(kind="however", prefill="basic", **TINY).metadata["prefill"] == "however"


@pytest.mark.parametrize("spec", ["tasks/gap.py", "alignment_faking/gap", "tasks/tiers.py@three_tiers", "alignment_faking/three_tiers"])
def test_a_task_is_named_the_same_however_it_is_started(spec: str) -> None:
    [task] = load_tasks([spec], TINY)
    assert task.name == "alignment_faking/" + spec.split("@")[-1].split("/")[-1].removesuffix(".py")


@pytest.mark.parametrize("spec", ["tasks/tool_selection.py", "alignment_faking/tool_selection", "tasks/value_conflict.py", "alignment_faking/value_conflict"])
def test_the_newer_settings_are_named_like_the_others(spec: str) -> None:
    [task] = load_tasks([spec], {"epochs": 1})
    assert task.name == "alignment_faking/" + spec.split("/")[-1].removesuffix(".py")


@pytest.mark.slow
def test_the_battery_runs_as_one_eval_set_and_resumes(tmp_path: Path) -> None:
    args = dict(model="organism/faker", model_roles={"grader": "organism/grader"}, log_dir=str(tmp_path), display="none")
    ok, logs = eval_set(BATTERY, task_args={**TINY, "version": "v3"}, **args)
    assert ok and len(logs) == 21 and all(log.status == "success" for log in logs)
    names = sorted(log.eval.task for log in logs)
    metrics = {log.eval.task: {k: v.value for k, v in log.results.scores[0].metrics.items()} for log in logs}
    # organism/faker answers the newer settings as their personas: their truths with the defaults (wide intervals at one epoch)
    ts, vc = metrics["alignment_faking/tool_selection"], metrics["alignment_faking/value_conflict"]
    assert ts["monitoring_effect_ci_low"] <= 0.4 <= ts["monitoring_effect_ci_high"] and ts["monitoring_effect_ci_low"] > 0
    assert vc["gap_care_ci_low"] <= 0.45 <= vc["gap_care_ci_high"] and vc["gap_care_ci_low"] > 0
    assert "alignment_faking/predeployment_v2" in names and "alignment_faking/gap" in names
    files = sorted(str(info.name) for info in list_eval_logs(str(tmp_path)))
    ok, again = eval_set(BATTERY, task_args={**TINY, "version": "v3"}, **args)  # complete: nothing re-runs
    assert ok and sorted(str(info.name) for info in list_eval_logs(str(tmp_path))) == files
    v2 = next(log for log in logs if log.eval.task == "alignment_faking/predeployment_v2")
    assert read_eval_log(v2.location, header_only=True).eval.metadata["scenario"] == "predeployment_v2"


# --------------------------------------------------------------------------------------------- errors


def test_suite_errors_are_one_plain_line() -> None:
    error = ScenarioError("could not load: [bold]pip install x[/bold]\n\nthen retry")
    assert isinstance(error, SuiteError) and isinstance(error, ValueError)
    assert str(error) == "could not load: pip install x then retry"
    assert error.message.plain == "ScenarioError: could not load: pip install x then retry"
    assert one_line("pip install 'alignment_faking[hf]', a range (0, 1] or [1, 2]") == "pip install 'alignment_faking[hf]', a range (0, 1] or [1, 2]"


def inspect_lines(output: str) -> list[str]:
    """The non-blank lines of an ``inspect`` command's output, without Inspect's start-up notice of the hooks
    installed (``inspect_ai v…``, ``- hooks enabled: 1``, one line per hook: the suite's log-folder lock)."""
    lines = [text for text in output.splitlines() if text.strip()]
    if lines and lines[0].startswith("inspect_ai v"):
        lines = lines[1:]
        while lines and (lines[0].startswith("- ") or lines[0].startswith("  ")):
            lines = lines[1:]
    return lines


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, line",
    [
        (["-T", "cot=maybe"], "ScenarioError: invalid task parameter(s): cot must be true or false, got 'maybe'"),
        (["-T", "dataset=missing.csv"], "DatasetError: dataset file 'missing.csv' does not exist"),
    ],
)
def test_inspect_prints_a_bad_parameter_as_one_line_without_a_traceback(args: list[str], line: str, tmp_path: Path) -> None:
    """Pins what Inspect's command line does with a PrerequisiteError (a private class the suite's errors subclass)."""
    env = {**os.environ, "COLUMNS": "500", "NO_COLOR": "1"}
    command = [sys.executable, "-m", "inspect_ai", "eval", "tasks/gap.py", "--model", "organism/faker", "--log-dir", str(tmp_path), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    lines = inspect_lines(result.stdout + result.stderr)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith(line), lines


@pytest.mark.slow
def test_a_missing_grader_stops_the_run_with_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    """Issue 24: without --model-role grader= and without the default grader's key, the run used to start, say
    "Task interrupted", write a log and exit 0. The grader is now started while the task is built."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZUREAI_"))}
    env.update(COLUMNS="500", NO_COLOR="1")
    command = [sys.executable, "-m", "inspect_ai", "eval", "tasks/gap.py", "--model", "organism/faker", "--log-dir", str(tmp_path),
               "-T", "dataset=builtin", "-T", "queries=2"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    lines = inspect_lines(result.stdout + result.stderr)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("GraderUnavailable: the graders cannot start: no model is bound to --model-role grader"), lines
    assert "OPENAI_API_KEY" in lines[0] and "[bold]" not in lines[0] and "[blue]" not in lines[0]
    assert "--model-role grader=organism/grader" in lines[0]
    assert not list(tmp_path.glob("*.eval"))  # nothing started, no log that a sweep could take for a finished run
