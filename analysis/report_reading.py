"""The report's reading: every eval log under a folder, each with its results object (``scorers/results.py``,
from ``analysis.headers.read_results``), its settings and its optional scorers' metrics, labelled by model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalLog, list_eval_logs

from alignment_faking.analysis.headers import read_header, read_results
from alignment_faking.scorers import metric_names as names
from alignment_faking.scorers.results import Results

NAN = float("nan")


class ReportError(Exception):
    """A problem with the input that the user can fix (no logs, nothing readable)."""


def condition_label(name: str, facts: dict[str, Any] | None) -> str:
    """What a condition means, from the scenario's facts: ``free (trained)``, ``pro (rated only)``, ``enterprise
    (unmonitored)``; a grid cell (``process`` × ``deployment``) reads ``rating and training · public``."""
    facts = facts or {}
    if "process" in facts and "deployment" in facts:
        return f"{str(facts['process']).replace('_', ' ')} · {str(facts['deployment']).replace('_', ' ')}"
    words = name.replace("_", " ")
    if facts.get("trained") is True:
        how = [str(facts[k]).upper() if k == "training" else f"{facts[k]} raters" for k in ("training", "rater") if facts.get(k)]
        state = "trained" + (f": {', '.join(how)}" if how else "")
        if facts.get("deployed") is False:
            state += ", never deployed"
    elif facts.get("rated") is True:
        state = "rated only"
    elif facts.get("trained") is False and facts.get("rated") is False:
        state = "unmonitored"
    else:
        return words
    return f"{words} ({state})"


@dataclass
class Run:
    """One log with results: where it is, what it ran, its results object and its optional scorers' metrics."""

    log: EvalLog
    path: str  # relative to the folder read
    results: Results
    label: str = ""  # the model, made unique where two runs share model and setting
    auxiliary: dict[str, float] = field(default_factory=dict)  # the optional scorers' metrics (motives, follow-up)

    @property
    def metadata(self) -> dict[str, Any]:
        return self.log.eval.metadata or {}

    @property
    def model(self) -> str:
        return str(self.log.eval.model)

    @property
    def task(self) -> str:
        return str(self.log.eval.task).split("/")[-1]

    @property
    def scenario(self) -> str:
        return str(self.metadata.get("scenario", ""))

    @property
    def variants(self) -> str:
        return "+".join(str(v) for v in self.metadata.get("variants") or [])

    @property
    def paraphrases(self) -> str:
        return ",".join(str(p) for p in self.metadata.get("paraphrases") or [])

    @property
    def setting(self) -> tuple[str, str, str, str]:
        return (self.task, self.scenario, self.variants, self.paraphrases)

    def facts(self, condition: str) -> dict[str, Any]:
        return dict((self.metadata.get("facts") or {}).get(condition) or {})

    def conditions(self) -> list[str]:
        """The run's conditions with results, in the scenario's order."""
        named = [str(c) for c in self.metadata.get("conditions") or []]
        return [c for c in named if c in self.results.conditions] if named else list(self.results.conditions)

    def contrasts(self) -> list[dict[str, Any]]:
        """The scenario's contrasts with results, in the scenario's order."""
        named = [dict(c) for c in self.metadata.get("contrasts") or []]
        if named:
            return [c for c in named if c.get("name") in self.results.contrasts]
        return [{"name": k.name, "rate": k.rate, "minuend": k.minuend, "subtrahend": k.subtrahend} for k in self.results.contrasts.values()]


@dataclass
class Skipped:
    path: str
    reason: str


def _log_paths(path: Path) -> list[str]:
    if path.is_file():
        return [str(path)]
    if not path.is_dir():
        raise ReportError(f"{path} is neither a folder of eval logs nor an eval log")
    infos = list_eval_logs(str(path))
    if not infos:
        raise ReportError(f"no eval logs (.eval or .json) in {path}")
    return [info.name for info in infos]


def _relative(location: str, root: Path) -> str:
    local = location[len("file://") :] if location.startswith("file://") else location
    try:
        return str(Path(local).resolve().relative_to(root.resolve() if root.is_dir() else root.resolve().parent))
    except ValueError:
        return local


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return NAN


def _read_run(location: str, relative: str) -> Run | Skipped:
    try:
        log = read_header(location)
    except Exception as exc:  # an unreadable file should not hide the others
        return Skipped(relative, f"unreadable: {exc}")
    if not log.results or not log.results.scores:
        message = f": {log.error.message.splitlines()[0]}" if log.error and log.error.message else ""
        return Skipped(relative, f"status {log.status}, no results{message}")
    # every number of the run (the log's metrics are a small set; headers.read_results computes the rest from the
    # per-sample reduced scores), then any optional scorer's metrics (motives, follow-up)
    try:
        results = read_results(location, log)
    except Exception as exc:
        return Skipped(relative, f"per-sample scores unreadable: {exc}")
    if results is None or not (results.conditions or results.contrasts):
        return Skipped(relative, "no alignment-faking metrics (compliance_<condition>, contrasts)")
    auxiliary = {name: _number(m.value) for score in log.results.scores for name, m in score.metrics.items()
                 if name not in results and name != names.UNMEASURED}
    return Run(log=log, path=relative, results=results, auxiliary=auxiliary)


def read_runs(path: str | Path) -> tuple[list[Run], list[Skipped]]:
    """Every log under ``path`` (a folder, read recursively, or one log) with results; the rest as skipped.
    Transcripts are not read (``analysis/headers.py``)."""
    root = Path(path)
    runs: list[Run] = []
    skipped: list[Skipped] = []
    for location in _log_paths(root):
        read = _read_run(location, _relative(location, root))
        (runs if isinstance(read, Run) else skipped).append(read)  # type: ignore[arg-type]
    runs.sort(key=lambda r: (r.setting, r.model, r.path))
    _label(runs)
    return runs, skipped


def _label(runs: list[Run]) -> None:
    """Label each run by its model; where two runs share model and setting, add the log's name."""
    counts: dict[tuple[Any, ...], int] = {}
    for run in runs:
        counts[(run.model, run.setting)] = counts.get((run.model, run.setting), 0) + 1
    for run in runs:
        run.label = run.model
        if counts[(run.model, run.setting)] > 1:
            run.label = f"{run.model} [{Path(run.path).stem.split('_')[-1][:8]}]"
