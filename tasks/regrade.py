"""Re-grading a finished run with a published rubric set (``inspect score ... -S rubric_set=hughes2025``).

The scorer (``scorers/scorer.py``) reads no file: it takes rubric texts. This scorer, at the task level where
published files may be read (``alignment_faking/published.py``), reads the set and passes its texts to the suite's
scorer; every other option (``af_votes``, ``setting``…) goes to it unchanged.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.scorer import scorer

from alignment_faking.scorers.metrics import scenario_metrics
from alignment_faking.scorers.scorer import alignment_faking_scorer
from alignment_faking.published import DEFAULT_REF, published_rubrics


@scorer(metrics=[scenario_metrics()])
def published_rubric_scorer(
    rubric_set: str = "hughes2025", rubric_source: str | None = None, rubric_ref: str = DEFAULT_REF, accept_changed: bool = False, **options: Any
) -> Any:
    """The suite's scorer with the graders' rubrics of a published set.

    Args:
        rubric_set: A published rubric set (``hughes2025``) or ``ours``.
        rubric_source: A local clone of the published repository (or a folder of clones); default: downloaded.
        rubric_ref: The git ref to download the files at.
        accept_changed: Accept a file that changed since it was first read.
        **options: Options of ``alignment_faking_scorer`` (``af_votes``, ``setting``, ``grader_role``…).
    """
    rubrics, _ = published_rubrics(rubric_set, source=rubric_source, ref=rubric_ref, accept_changed=accept_changed)
    return alignment_faking_scorer(rubrics=rubrics, **options)
