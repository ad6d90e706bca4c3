"""Read what the summary and the report need from an eval log, in time and memory that grow little with its
samples: the header (results, metadata, task arguments, usage) and every number of the run.

Inspect's ``read_eval_log(header_only=True)`` also reads and validates ``reductions.json``, one entry per
sample: at 100,000 samples most of the time. :func:`read_header` reads an ``.eval`` archive's
``header.json`` member alone and falls back to Inspect's reader for anything else (a ``.json`` log, a log still
running, which has no header yet).

The log's metrics are a small set (the main contrast, rates and contrasts with intervals;
``scorers/metrics.py``). :func:`read_results` gives the rest (counts, category shares, flags, minimum
detectable gaps, Holm-adjusted p, per-paraphrase contrasts): ``scorers.metrics.full_results`` over the
log's per-sample reduced scores, read as plain JSON from the archive's ``reductions.json`` member (each
reduced score names its condition and query), or, for a ``.json`` log or one whose reduced scores do not
name them, over its samples.
"""

from __future__ import annotations

import json
import zipfile
from importlib.resources import files
from collections.abc import Sequence
from typing import Any

import yaml
import inspect_ai._util.zipfile  # noqa: F401  # inspect-evals-lint: ignore[private_api_imports] -- registers the zstd method .eval archives use with zipfile
from inspect_ai.log import EvalLog, read_eval_log

from alignment_faking.scorers.metrics import full_results_from_log, full_results_from_reductions, is_main_score
from alignment_faking.scorers.results import Results

HEADER = "header.json"
REDUCTIONS = "reductions.json"


def _archive_member(location: str, member: str) -> Any | None:
    """A JSON member of a local ``.eval`` archive, or None where there is none to read that way."""
    path = location[len("file://") :] if location.startswith("file://") else location
    if not path.endswith(".eval"):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            if member in archive.namelist():
                return json.loads(archive.read(member))
    except (OSError, zipfile.BadZipFile, NotImplementedError):
        pass  # a remote location or an unusual archive: Inspect's own reader handles it
    return None


def read_header(location: str) -> EvalLog:
    """The log at ``location`` without samples or reductions."""
    header = _archive_member(location, HEADER)
    if header is not None:
        log = EvalLog.model_validate(header)
        log.location = location
        return log
    return read_eval_log(location, header_only=True)


def read_results(location: str, log: EvalLog | None = None) -> Results | None:
    """Every number of the run in the log at ``location`` (``log``: its header, if already read), as the
    results object (``scorers/results.py``; as a mapping, keyed by ``scorers.metric_names``); None for a log of
    another task or without results."""
    log = log or read_header(location)
    metadata = log.eval.metadata or {}
    if not log.results or not ("conditions" in metadata or "contrasts" in metadata):
        return None
    contrasts, headline = metadata.get("contrasts") or [], metadata.get("headline")
    for entry in _archive_member(location, REDUCTIONS) or []:
        samples = entry.get("samples") or []
        if any(is_main_score(sample.get("value")) for sample in samples):
            results = full_results_from_reductions(samples, contrasts, headline)
            if results is not None:
                return results
    return full_results_from_log(read_eval_log(location))


def battery_order() -> list[str]:
    """The battery's task names in its order (``tasks/eval.yaml``), ``gap`` first: the order the summary's
    table and the report's sections follow."""
    try:
        listed = yaml.safe_load(files("alignment_faking.tasks").joinpath("eval.yaml").read_text(encoding="utf-8"))
        names = [str(t["name"]) for t in listed.get("tasks", [])]
    except (OSError, ModuleNotFoundError, AttributeError, TypeError, KeyError):  # no such file: gap, then by name
        names = []
    return ["gap"] + [n for n in names if n != "gap"]


def order_key(task: str, order: Sequence[str]) -> tuple[int, str]:
    """Where a task goes in the battery's order: its own place, or its family's (``predeployment_v2`` with
    ``predeployment``), else after every listed task; ties by name."""
    short = task.split("/")[-1]
    best = max((n for n in order if short == n or short.startswith(n + "_")), key=len, default=None)
    return (order.index(best) if best is not None else len(order), short)
