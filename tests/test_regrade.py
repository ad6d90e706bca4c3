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
