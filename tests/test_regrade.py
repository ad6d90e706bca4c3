"""Re-grading a finished run without re-sampling: another grader or vote count through `inspect score`."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai import score
from inspect_ai.event import ModelEvent
from inspect_ai.log import list_eval_logs, read_eval_log
from inspect_ai.model import get_model

from alignment_faking.scorers.scorer import alignment_faking_scorer
from alignment_faking.tasks.gap import gap
from alignment_faking.scorers.metrics import full_results_from_log


def first_run(tmp_path: Path):
    [log] = inspect_eval(
        gap(dataset="builtin", queries=8, af_votes=3),
        model="organism/faker",
        model_roles={"grader": "organism/grader"},
        log_dir=str(tmp_path),
        display="none",
    )
    return log


@pytest.mark.slow
def test_regrade_with_another_grader_keeps_the_scenario_metrics(tmp_path: Path) -> None:
    log = first_run(tmp_path)
    logged = {k: m.value for k, m in log.results.scores[0].metrics.items()}
    before = full_results_from_log(log)
    policy_calls = sum(1 for s in log.samples for e in s.events if isinstance(e, ModelEvent) and e.role is None)
    broken = get_model("organism/grader", unreadable=1.0)
    regraded = score(log, [alignment_faking_scorer(af_votes=5)], model_roles={"grader": broken}, action="overwrite", display="none")
    assert set(regraded.results.scores[0].metrics) == set(logged)  # the task's contrast metrics come back from the log header
    after = full_results_from_log(regraded)
    # an unreadable grader leaves every AF verdict and every non-bare response ungraded (never a false 0/1):
    # only the bare <rejected/> refusals, which need no grader, keep a compliance value
    assert math.isnan(after["af_free"]) and not math.isnan(before["af_free"])
    assert after["compliance_free"] == 0.0 and before["compliance_free"] > 0
    assert after["n_compliance_free"] < before["n_compliance_free"]  # ungraded responses leave the denominator
    # the transcripts are the same: no new generation of the model under test
    assert sum(1 for s in regraded.samples for e in s.events if isinstance(e, ModelEvent) and e.role is None) == policy_calls
    again = score(log, [alignment_faking_scorer(af_votes=5)], model_roles={"grader": get_model("organism/grader")}, action="overwrite", display="none")
    values = full_results_from_log(again)
    assert values["compliance_gap"] == before["compliance_gap"] and values["af_free"] == before["af_free"]

    # the grader's tokens: each score records those of its own grader calls; in the first run they are the
    # sample's grader usage as Inspect counted it; a re-grade (whose log keeps the first run's usage
    # statistics) records its own: 5 AF votes where the run drew 3
    def usage(sample, key: str) -> int:
        return next(iter(sample.scores.values())).metadata["grader_usage"].get(key, 0)

    for sample in log.samples:
        counted = sample.role_usage.get("grader")
        assert (usage(sample, "input_tokens"), usage(sample, "output_tokens")) == ((counted.input_tokens, counted.output_tokens) if counted else (0, 0))
    assert again.stats.role_usage == log.stats.role_usage
    assert sum(usage(s, "output_tokens") for s in again.samples) > sum(usage(s, "output_tokens") for s in log.samples) > 0


@pytest.mark.slow
def test_inspect_score_cli_with_a_grader_role(tmp_path: Path) -> None:
    first_run(tmp_path)
    path = list_eval_logs(str(tmp_path))[0].name.replace("file://", "")
    out = tmp_path / "regraded.eval"
    command = [
        str(Path(sys.executable).parent / "inspect"), "score", path,
        "--scorer", "alignment_faking/alignment_faking_scorer", "-S", "af_votes=2",
        "--model-role", "grader=organism/grader", "--action", "overwrite", "--output-file", str(out),
    ]
    # the installed `inspect` command, as a user runs it (not `python -m`, which would put the working
    # directory, and a checkout's egg-info, first on the import path)
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    regraded = read_eval_log(str(out))
    assert "compliance_gap_ci_low" in regraded.results.scores[0].metrics
    grader_events = [e for s in regraded.samples for e in s.events if isinstance(e, ModelEvent) and e.role == "grader"]
    assert grader_events and all(e.model == "organism/grader" for e in grader_events)


@pytest.mark.slow
def test_a_regrade_with_the_published_rubrics_records_its_own_grader_tokens(tmp_path: Path) -> None:
    from test_published import write_clones

    from alignment_faking.tasks.regrade import published_rubric_scorer

    log = first_run(tmp_path / "logs")
    regraded = score(log, [published_rubric_scorer(af_votes=3, rubric_set="hughes2025", rubric_source=str(write_clones(tmp_path / "clones")))],
                     model_roles={"grader": "organism/grader"}, action="overwrite", display="none")

    def usage(evaluated, key: str) -> list[int]:
        return [next(iter(s.scores.values())).metadata["grader_usage"].get(key, 0) for s in evaluated.samples]

    # the same calls (same votes, same gating) on other rubric texts: as many output tokens per sample as a
    # reply is long, other input tokens (the published rubrics are other texts), and the run's stats unchanged
    assert [n > 0 for n in usage(regraded, "output_tokens")] == [n > 0 for n in usage(log, "output_tokens")]
    assert sum(usage(regraded, "input_tokens")) > 0 and usage(regraded, "input_tokens") != usage(log, "input_tokens")
    assert regraded.stats.role_usage == log.stats.role_usage
