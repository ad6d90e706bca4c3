"""A published grader rubric inside one of our graders, for callers that hold a grader object (the
classifier-validation task): the grader keeps its settings, vote aggregation and reply parser; the rubric (read
at run time by ``alignment_faking.published``) brings its text, the published code's message layout and its
reply tags (the swap itself is the grader's own: ``scorers.graders.RubricSwap``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alignment_faking.published import DEFAULT_REF, OURS, load_rubric

from .graders import RubricSwap


def with_published_rubric(
    grader: Any, rubric_set: str, *, source: str | Path | None = None, ref: str = DEFAULT_REF, accept_changed: bool = False
) -> tuple[Any, dict[str, Any] | None]:
    """``grader`` with the rubric of ``rubric_set`` swapped in, and the record of the file read (None for
    ``ours``, which returns the grader unchanged)."""
    if rubric_set == OURS:
        return grader, None
    published = load_rubric(grader.rubric_file, rubric_set, source=source, ref=ref, accept_changed=accept_changed)
    return grader.with_rubric(RubricSwap(published.name, published.text, published.layout, tuple(published.fields))), published.record
