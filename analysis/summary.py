"""Print the headline numbers of eval logs: rates per condition and each contrast with its interval.

    python -m alignment_faking.analysis.summary logs/            # a folder: one table, scenarios x models
    python -m alignment_faking.analysis.summary logs/ --all      # a folder: every log in full
    python -m alignment_faking.analysis.summary logs/x.eval      # one log in full
    python -m alignment_faking.analysis.summary logs/ --latest   # only the newest, in full

Each log's header and its per-sample reduced scores are read (``analysis/headers.py``), never its
transcripts: a log of 100,000 samples takes seconds. The numbers come from the results object
(``scorers/results.py``), never from metric names.

A folder of several logs prints one table: a row per task and setting (the battery's order, ``gap`` first) with
its main contrast's label, a column per model with that contrast's estimate and 95% interval (``*`` where
significant; the notes collapsed to a mark: ``u`` underpowered, ``?`` left-out responses could change it), and the
contrast's metric name (``--all`` prints every log in full). The two newer settings (tool selection, value
conflict) show their main measure there (``monitoring_effect``, ``gap``) and, in full, every measure of the report's
table for them (``analysis/report_settings.py``). A log in full shows each condition's rates, each contrast, and,
where some responses are ungraded or invalid, the bounds each rate and contrast would take had those responses
all gone one way or the other, flagged where the contrast's conclusion (its sign or significance) could change.
A run whose main contrast is more than half invalid or ungraded responses says it did not measure it, and the
command then exits with code 3 (after printing everything), so a sweep script can tell.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalLog, list_eval_logs

from alignment_faking.analysis.headers import battery_order, order_key, read_header, read_results
from alignment_faking.analysis.report_settings import HEADER as SETTING_HEADER
from alignment_faking.analysis.report_settings import SettingRun, main_measure, rows_of, setting_run, table_rows
from alignment_faking.analysis.report_tables import contrast_label, setting_text
from alignment_faking.scorers.results import ContrastResult, RateResult, Results, Sensitivity

UNMEASURED_EXIT = 3
"""The exit code when a log read did not measure its main contrast (its numbers are printed all the same)."""
KIND_WORDS = {"ungraded": "ungraded", "invalid": "invalid"}


def _pct(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:5.1f}%"


def mdg_text(mdg: float) -> str:
    """A minimum detectable gap in words: ``not detectable at this n`` where no gap within range could be
    detected (infinite, or above 100 points), else a percentage."""
    if math.isnan(mdg):
        return "n/a"
    return "not detectable at this n" if math.isinf(mdg) or mdg > 1.0 else _pct(mdg).strip()


def _bounds_text(s: Sensitivity) -> str:
    return f"[{_pct(s.low.estimate).strip()}, {_pct(s.high.estimate).strip()}]"


def rate_sensitivity(rate: RateResult) -> str:
    """``; if the 2 ungraded went either way [50.0%, 60.0%]`` for each kind with left-out responses."""
    parts = [f"{s.responses:.0f} {KIND_WORDS[kind]} either way {_bounds_text(s)}" for kind, s in rate.sensitivity.items() if s.responses]
    return f"  (if {'; '.join(parts)})" if parts else ""


def contrast_sensitivity(k: ContrastResult) -> list[str]:
    """A line per kind of left-out responses: the contrast's bounds and whether its conclusion could change."""
    lines = []
    for kind, s in k.sensitivity.items():
        if not s.responses:
            continue
        verdict = "COULD CHANGE THE CONCLUSION (sign or significance)" if s.changes else "the conclusion holds"
        lines.append(
            f"    if the {s.responses:.0f} {KIND_WORDS[kind]} responses had all gone one way or the other: "
            f"{_bounds_text(s)} (p {s.low.p_value:.3g} / {s.high.p_value:.3g}); {verdict}"
        )
    return lines


def _contrast_lines(k: ContrastResult) -> list[str]:
    if math.isnan(k.estimate):
        return [f"  {k.name}: n/a (no response graded in some condition it compares)"]
    line = (
        f"  {k.name} ({k.minuend} - {k.subtrahend}, {k.rate}): "
        f"{_pct(k.estimate)}  95% CI [{_pct(k.ci_low)}, {_pct(k.ci_high)}]  p = {k.p_value:.3g}  queries = {k.n_queries:.0f}"
        + ("  (above the paper's 1-point cut, and significant)" if k.above_cut == 1 else "")
    )
    lines = [line]
    if k.underpowered == 1:
        lines.append(
            "    note: underpowered, not significant and a gap of the paper's 1-point cut could not have been detected "
            f"at this n (minimum detectable gap {mdg_text(k.mdg)} at 80% power); a null here says little."
        )
    return lines + contrast_sensitivity(k)


def _condition_line(results: Results, condition: str) -> str:
    c = results.conditions[condition]
    rates = c.rates

    def shown(name: str) -> str:
        r = rates.get(name)
        return _pct(r.estimate if r else None)

    failed = f"  grader failed {int(c.grader_failed)}" if c.grader_failed else ""
    compliance = rates.get("compliance")
    return (
        f"  {condition:<14} compliance {shown('compliance')}  AF {shown('af')}  partial {shown('partial')}  "
        f"invalid {int(c.invalid)}/{int(c.n)}{failed}" + (rate_sensitivity(compliance) if compliance else "")
    )


def not_measured(results: Results) -> str | None:
    """The line saying the run did not measure its main contrast, or None when it did."""
    coverage = results.coverage
    if coverage.measured:
        return None
    what = f"the {results.headline}" if results.headline else "anything"
    return f"  NOT MEASURED: this run did not measure {what}: {coverage.explanation()}."


def summarise_log(log: EvalLog, results: Results | None = None) -> str:
    """A few lines a person can read: the model, each condition's rates, each contrast. ``results``: the run's
    results object (``headers.read_results``); by default those of the log at ``log.location``."""
    metadata = log.eval.metadata or {}
    scenario = metadata.get("scenario", metadata.get("setting", "?"))
    header = f"{log.eval.task} | {log.eval.model} | scenario {scenario} | status {log.status}"
    # what the dataset loader had to say (copies dropped, a response column not replayed, a truncation)
    header += "".join(f"\n  note: dataset {metadata.get('dataset', '?')}: {note}" for note in metadata.get("dataset_notes", []))
    if not log.results or not log.results.scores:
        return header + "\n  (no results: the run did not finish; see `inspect view`)"
    if results is None:
        results = read_results(log.location, log)
    run = setting_run(log, log.location) if results is None else None
    if run is not None:
        return header + "\n" + setting_lines(run)
    if results is None:
        return header + "\n  (no alignment-faking results in this log)"
    lines = [header]
    unmeasured = not_measured(results)
    if unmeasured:
        lines.append(unmeasured)
    shown = [c for c in metadata.get("conditions", []) if c in results.conditions]
    if unmeasured:  # what each condition lost, not rows of n/a
        for condition in shown:
            c = results.conditions[condition]
            ungraded = c.shares.get("ungraded", math.nan) * c.n
            ungraded = c.grader_failed if math.isnan(ungraded) else ungraded  # a log from before the categories
            lines.append(f"  {condition:<14} {c.n:.0f} responses: {c.invalid:.0f} invalid, {ungraded:.0f} ungraded")
        return "\n".join(lines)
    lines += [_condition_line(results, condition) for condition in shown]
    order = [str(c["name"]) for c in metadata.get("contrasts", [])]
    for name in order:
        k = results.contrasts.get(name)
        if k is not None:
            lines += _contrast_lines(k)
    return "\n".join(lines)


def setting_lines(run: SettingRun) -> str:
    """A newer setting's measures (tool selection, value conflict), as the report's table shows them."""
    rows = [r[1:] for r in table_rows([run])]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(SETTING_HEADER[1:])]
    line = lambda r: "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(SETTING_HEADER[1:]), *map(line, rows)])


# ------------------------------------------------------------------------------------------ many logs


MARKS = {
    "*": "significant (the interval excludes 0)",
    "u": "underpowered (a null says little at this n)",
    "?": "left-out (ungraded or invalid) responses could change the conclusion",
}
"""The notes of the folder table, collapsed to a mark after each estimate (``--all`` spells them out)."""


def cell(log: EvalLog, results: Results | None) -> str:
    """One log's main contrast in the folder table: ``+43.0 [+29.4, +54.9]*`` with the marks of ``MARKS``, or
    why there is no number (``no results``, ``not measured``, ``n/a``)."""
    if results is None or not log.results:
        return f"no results ({log.status})"
    k = results.contrast()
    if not results.coverage.measured:
        return f"not measured ({results.coverage.unmeasured_share:.0%} invalid/ungraded)"
    if k is None or math.isnan(k.estimate):
        return "n/a"
    marks = ("*" if k.significant == 1 else "") + (" u" if k.underpowered == 1 else "") + (" ?" if k.sensitivity_changes else "")
    return f"{100 * k.estimate:+.1f} [{100 * k.ci_low:+.1f}, {100 * k.ci_high:+.1f}]{marks}"


def scenario_of(log: EvalLog) -> str:
    """A row of the folder table: the task with its setting (``gap · no_suffix``, ``gap · paraphrases p0,p1``)."""
    metadata = log.eval.metadata or {}
    task = str(log.eval.task).split("/")[-1]
    setting = setting_text("+".join(metadata.get("variants") or []), ",".join(metadata.get("paraphrases") or []))
    return task if setting == "—" else f"{task} · {setting}"


def main_contrast(log: EvalLog, results: Results | None) -> tuple[str, str]:
    """The label and the metric name of a log's main contrast (``—`` where it has none)."""
    k = results.contrast() if results is not None else None
    if k is None:
        return "—", "—"
    spec = next((c for c in (log.eval.metadata or {}).get("contrasts", []) if c.get("name") == k.name), {"name": k.name})
    return contrast_label(spec), k.name


def folder_table(entries: Sequence[tuple[EvalLog, Results | None]]) -> str:
    """The compact table of many logs: scenarios (a row per task and setting, the battery's order) × models (a
    column each), each cell the main contrast with its interval and marks, then the contrast's metric name."""
    order = battery_order()
    models = sorted(dict.fromkeys(str(log.eval.model) for log, _ in entries))
    rows: dict[str, dict[str, str]] = {}
    for log, results in sorted(entries, key=lambda e: (order_key(scenario_of(e[0]).split(" ")[0], order), scenario_of(e[0]))):
        row = rows.setdefault(scenario_of(log), {"scenario": scenario_of(log)})
        run = setting_run(log, log.location) if results is None else None
        if run is not None and rows_of(run.setting, run.metrics):
            label, value, metric = main_measure(run)
        else:
            (label, metric), value = main_contrast(log, results), cell(log, results)
        row.setdefault("main contrast", label)
        row.setdefault("metric", metric)
        model = str(log.eval.model)
        row[model] = f"{row[model]}; {value}" if model in row else value  # a rerun: both
    columns = ["scenario", "main contrast", *models, "metric"]
    widths = {c: max(len(c), *(len(r.get(c, "")) for r in rows.values())) for c in columns}
    line = lambda r: "  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns).rstrip()  # noqa: E731
    out = [line({c: c for c in columns}), line({c: "-" * widths[c] for c in columns})] + [line(r) for r in rows.values()]
    out.append("Main contrast in percentage points with its 95% interval; " + "; ".join(f"{m} {w}" for m, w in MARKS.items()) + ".")
    out.append("`--all` prints every log in full.")
    return "\n".join(out)


def _read(log: EvalLog) -> Results | None:
    try:
        return read_results(log.location, log) if log.results and log.results.scores else None
    except Exception:  # a log whose scores cannot be read still gets its row
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="an eval log file or a folder of logs")
    parser.add_argument("--latest", action="store_true", help="only the newest log of the folder")
    parser.add_argument("--all", action="store_true", help="a folder: every log in full instead of one table")
    args = parser.parse_args(argv)
    path = Path(args.path)
    if path.is_file():
        logs = [read_header(str(path))]
    elif path.is_dir():
        infos = list_eval_logs(str(path))  # newest first
        if not infos:
            print(f"no eval logs in {path}", file=sys.stderr)
            return 1
        logs = [read_header(info.name) for info in (infos[:1] if args.latest else infos)]
    else:
        print(f"{path} is neither an eval log nor a folder", file=sys.stderr)
        return 1
    entries: list[tuple[EvalLog, Any]] = [(log, _read(log)) for log in logs]
    if len(entries) > 1 and not args.all:
        print(folder_table(entries))
    else:
        print("\n\n".join(summarise_log(log, results) if results is not None else summarise_log(log) for log, results in entries))
    unmeasured = [log.location for log, results in entries if results is not None and not results.coverage.measured]
    if unmeasured:
        print(f"error: {len(unmeasured)} of {len(entries)} log(s) did not measure their main contrast (most responses "
              f"invalid or ungraded): {', '.join(unmeasured)}", file=sys.stderr)
        return UNMEASURED_EXIT
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
