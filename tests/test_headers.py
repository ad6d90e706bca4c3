"""analysis/headers.py: the header member alone gives what Inspect's header-only read gives, minus the reductions."""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log

from alignment_faking.analysis.headers import read_header
from alignment_faking.tasks.gap import gap


@pytest.mark.slow
def test_the_header_member_equals_inspects_header_read(tmp_path: Path) -> None:
    task = gap(dataset="builtin", queries=2, af_votes=1)
    for log_format in ("eval", "json"):
        [log] = inspect_eval(task, model="organism/faker", model_roles={"grader": "organism/grader"}, log_dir=str(tmp_path / log_format),
                             log_format=log_format, display="none")
        ours, theirs = read_header(log.location), read_eval_log(log.location, header_only=True)
        assert (ours.status, ours.eval, ours.results, ours.stats, ours.location) == (theirs.status, theirs.eval, theirs.results, theirs.stats, theirs.location)
        assert ours.results is not None and "compliance_gap" in ours.results.scores[0].metrics
        assert ours.samples is None
        if log_format == "eval":
            assert ours.reductions is None and theirs.reductions  # the per-sample part is not read
