"""Write a report of eval logs a paper can use: a run card, per-task sections with figures and tables, CSVs.

    python -m alignment_faking.analysis.report logs/main --out reports/main
    python -m analysis.report logs/main --out reports/main      # from a checkout

Every eval log under LOGDIR (one run, an eval-set, a sweep over models) is read without its transcripts
(``analysis/headers.py``: the archive's header, and its per-sample reduced scores from which
``scorers.metrics.full_results`` gives every number; the settings are the eval's metadata and task
arguments), so a report over 100,000 samples takes seconds. It writes into DIR:

- ``index.html``: one self-contained page: a table of contents, the run card (models, grader, dataset, n,
  votes, temperature, epochs, suite and Inspect versions, prompt set), then a section per task and setting with
  its figures, its conditions (rates with 95% intervals) and contrasts (differences in percentage points with
  95% intervals, p, queries and flags), and the token counts;
- ``table.md``: the same tables as markdown; ``results.csv``: one tidy row per log × condition or contrast ×
  measure, with its key in ``full_results`` (``metric``; the log's own metric key where the log's small
  metric set has it), so each number traces back to the log;
  ``tokens.csv``: per log, the model under test's and the grader's tokens; ``run_card.csv``;
- figures, each as SVG and PDF (vector) and PNG (300 dpi), sized for a page (6.5 in wide):
  ``categories_<section>`` (Sheshadri et al. 2025 Fig. 1 style: models as rows, conditions side by side, each bar
  split into the six categories plus ``invalid`` and ``ungraded``, AF reasoning hatched),
  ``contrasts_<section>`` (each contrast per model with its interval; hollow where the interval spans 0),
  ``grid_<section>`` (pre-deployment: the compliance rate for each process × deployment, a panel per model)
  and ``gaps_<section>`` (pre-deployment: each process contrast per deployment, hatched where the interval
  spans 0).

Condition labels come from the scenario's facts recorded in each log ("free (trained)", "pro (rated only)",
"enterprise (unmonitored)"). Logs that did not finish or hold no alignment-faking metrics are listed as skipped.
"""

from __future__ import annotations

import argparse
import base64
import html
import math
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
from inspect_ai.log import EvalLog, list_eval_logs

from alignment_faking.analysis.headers import read_header, read_results
from alignment_faking.analysis.spread import draw_spread, spread_frame
from alignment_faking.scorers import metric_names as names
from alignment_faking.scorers.motives import AUXILIARY_PREFIXES

NAN = float("nan")
RATE_NAMES: tuple[str, ...] = tuple(names.RATES)
CONDITION_MEASURES: tuple[str, ...] = RATE_NAMES + ("invalid", "grader_failed", "n") + tuple(f"cat_{c}" for c in names.CATEGORIES)
"""Per-condition measures, in the order of the metric names ``<measure>_<condition>``."""


def condition_key(measure: str, condition: str) -> str:
    """The log's metric key of a condition's measure (names from ``scorers/metric_names.py``)."""
    if measure == "n":
        return names.responses(condition)
    if measure == "invalid":
        return names.invalid(condition)
    if measure == "grader_failed":
        return names.grader_failed(condition)
    if measure.startswith("cat_"):
        return names.share(measure[4:], condition)
    return names.rate(measure, condition)


CONTRAST_FIELDS = {
    "ci_low": names.ci_low,
    "ci_high": names.ci_high,
    "p": names.p_value,
    "n": names.n_queries,
    "above_cut": names.above_cut,
    "underpowered": names.underpowered,
}
"""Each field of a contrast's row -> its metric key (``scorers/metric_names.py``)."""


COLUMNS = [
    "model", "task", "scenario", "variants", "paraphrases", "kind", "name", "label", "measure", "paraphrase",
    "minuend", "subtrahend", "value", "ci_low", "ci_high", "p", "n", "above_cut", "underpowered", "metric", "status", "log",
]
"""Columns of ``results.csv``. ``kind`` is ``condition``, ``contrast`` or ``metric`` (any other number of the log); ``name`` the condition or contrast and
``label`` what it means; ``measure`` the rate (or count, or ``cat_<category>``); ``paraphrase`` is set for the
per-paraphrase rows of a paraphrase ensemble; ``n`` is the condition's samples or the contrast's queries;
``above_cut`` and ``underpowered`` are the contrast's flags; ``metric`` is the key of ``value`` in the log."""


class ReportError(Exception):
    """A problem with the input that the user can fix (no logs, nothing readable)."""


# --------------------------------------------------------------------------------------------- reading


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
    """One log with results: where it is, what it ran and its metrics."""

    log: EvalLog
    path: str  # relative to the folder read
    label: str = ""  # the model, made unique where two runs share model and setting
    metrics: dict[str, float] = field(default_factory=dict)

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
        named = [str(c) for c in self.metadata.get("conditions") or []]
        if named:
            return [c for c in named if f"n_{c}" in self.metrics]
        return [key[2:] for key in self.metrics if key.startswith("n_") and key[2:].split("_")[0] not in names.RATES]

    def contrasts(self) -> list[dict[str, Any]]:
        named = [dict(c) for c in self.metadata.get("contrasts") or []]
        if named:
            return [c for c in named if c.get("name") in self.metrics]
        suffix = names.n_queries("")
        return [{"name": key[: -len(suffix)]} for key in self.metrics if key.endswith(suffix)]


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


def read_runs(path: str | Path) -> tuple[list[Run], list[Skipped]]:
    """Every log under ``path`` (a folder, read recursively, or one log) with results; the rest as skipped.
    Transcripts are not read (see the module docstring)."""
    root = Path(path)
    runs: list[Run] = []
    skipped: list[Skipped] = []
    for location in _log_paths(root):
        relative = _relative(location, root)
        try:
            log = read_header(location)
        except Exception as exc:  # an unreadable file should not hide the others
            skipped.append(Skipped(relative, f"unreadable: {exc}"))
            continue
        if not log.results or not log.results.scores:
            message = f": {log.error.message.splitlines()[0]}" if log.error and log.error.message else ""
            skipped.append(Skipped(relative, f"status {log.status}, no results{message}"))
            continue
        # every number of the run (the log's metrics are a small set; headers.read_results computes the rest
        # from the per-sample reduced scores), then any optional scorer's metrics (motives, follow-up)
        try:
            metrics: dict[str, float] = read_results(location, log)
        except Exception as exc:
            skipped.append(Skipped(relative, f"per-sample scores unreadable: {exc}"))
            continue
        for score in log.results.scores:
            for name, m in score.metrics.items():
                metrics.setdefault(name, _number(m.value))
        run = Run(log=log, path=relative, metrics=metrics)
        if not run.conditions() and not run.contrasts():
            skipped.append(Skipped(relative, "no alignment-faking metrics (compliance_<condition>, contrasts)"))
            continue
        runs.append(run)
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


# --------------------------------------------------------------------------------------------- frames


def _row(run: Run, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {column: NAN for column in COLUMNS}
    row.update(
        model=run.model, task=run.task, scenario=run.scenario, variants=run.variants, paraphrases=run.paraphrases,
        paraphrase="", minuend="", subtrahend="", status=str(run.log.status), log=run.path, run=run.label,
    )
    row.update(values)
    return row


def _side(run: Run, side: Any) -> str:
    """A contrast's side as words: a condition's label, or ``(A − B)`` for a difference of gaps."""
    if isinstance(side, (list, tuple)):
        return "(" + " − ".join(condition_label(str(s), run.facts(str(s))) for s in side) + ")"
    return condition_label(str(side), run.facts(str(side))) if side else ""


def run_rows(run: Run) -> list[dict[str, Any]]:
    """The tidy rows of one run: each condition's measures, then each contrast (and its per-paraphrase values)."""
    m = run.metrics
    rows: list[dict[str, Any]] = []
    for condition in run.conditions():
        n = m.get(f"n_{condition}", NAN)
        label = condition_label(condition, run.facts(condition))
        for measure in CONDITION_MEASURES:
            key = condition_key(measure, condition)
            if key in m:
                extra = {"ci_low": m.get(names.ci_low(key), NAN), "ci_high": m.get(names.ci_high(key), NAN)} if measure in names.RATES else {}
                rows.append(_row(run, kind="condition", name=condition, label=label, measure=measure, value=m[key], n=n, metric=key, **extra))
    paraphrases = [str(p) for p in run.metadata.get("paraphrases") or []]
    for contrast in run.contrasts():
        name = contrast["name"]
        minuend, subtrahend = contrast.get("minuend", ""), contrast.get("subtrahend", "")
        common = dict(
            kind="contrast", name=name, measure=contrast.get("rate", ""),
            minuend="+".join(minuend) if isinstance(minuend, list) else minuend,
            subtrahend="+".join(subtrahend) if isinstance(subtrahend, list) else subtrahend,
            label=f"{contrast.get('rate', '')}: {_side(run, minuend)} − {_side(run, subtrahend)}" if minuend else name,
        )
        rows.append(_row(run, **common, value=m[name], metric=name, **{f: m.get(key(name), NAN) for f, key in CONTRAST_FIELDS.items()}))
        for paraphrase in paraphrases:
            key = names.paraphrase(name, paraphrase)
            if key in m:
                rows.append(
                    _row(run, **common, paraphrase=paraphrase, value=m[key], ci_low=m.get(names.ci_low(key), NAN), ci_high=m.get(names.ci_high(key), NAN), metric=key)
                )
    # every other number of the log (counts, flags, adjusted p-values…), so the CSV holds all of them
    used = {row["metric"] for row in rows}
    used |= {bound(row["metric"]) for row in rows for bound in (names.ci_low, names.ci_high)}
    used |= {key(c["name"]) for c in run.contrasts() for key in CONTRAST_FIELDS.values()}
    rows += [_row(run, kind="metric", name=key, label=key, measure="", value=value, metric=key) for key, value in m.items() if key not in used]
    return rows


def results_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """All runs' rows; the ``run`` column (the label used in tables and figures) is not written to the CSV."""
    rows = [row for run in runs for row in run_rows(run)]
    return pd.DataFrame(rows, columns=COLUMNS + ["run"])


def tokens_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """Per log, the model under test's tokens and the grader's (the model bound to role ``grader``; when no
    grader is bound, every model other than the model under test, as "other models")."""
    rows = []
    for run in runs:
        usage = run.log.stats.model_usage if run.log.stats else {}
        grader = _grader(run)
        if grader is not None and grader != run.model:
            grader_usage, grader_label = ([usage[grader]] if grader in usage else []), grader
        elif grader == run.model:
            grader_usage, grader_label = [], f"{grader} (same model: counted with the model under test)"
        else:
            grader_usage, grader_label = [u for name, u in usage.items() if name != run.model], "other models"
        model_items = [usage[run.model]] if run.model in usage else []

        def count(items: list[Any], attribute: str) -> int:
            return int(sum(getattr(u, attribute) or 0 for u in items))

        rows.append(
            {
                "log": run.path, "model": run.model,
                "model_input_tokens": count(model_items, "input_tokens"),
                "model_output_tokens": count(model_items, "output_tokens"),
                "model_total_tokens": count(model_items, "total_tokens"),
                "grader": grader_label,
                "grader_input_tokens": count(grader_usage, "input_tokens"),
                "grader_output_tokens": count(grader_usage, "output_tokens"),
                "grader_total_tokens": count(grader_usage, "total_tokens"),
            }
        )
    return pd.DataFrame(rows)


def cost_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """Per log and role (the model under test, each model role), tokens and USD (``analysis.cost.run_cost``:
    the log's own cost where the run had ``--model-cost-config``, else the suite's price table)."""
    from alignment_faking.analysis.cost import run_cost
    from alignment_faking.analysis.estimate import load_prices

    prices = load_prices()
    rows = [
        {"log": run.path, "role": line.role, "model": line.model, "input_tokens": line.input_tokens,
         "cache_read_tokens": line.cache_read_tokens, "cache_write_tokens": line.cache_write_tokens,
         "output_tokens": line.output_tokens, "usd": line.cost, "priced_by": line.source}
        for run in runs for line in run_cost(run.log, prices)
    ]
    return pd.DataFrame(rows, columns=["log", "role", "model", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "usd", "priced_by"])


def cost_table(cost: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "log": cost["log"], "role": cost["role"], "model": cost["model"],
            "input": cost["input_tokens"].map(fmt_int), "cache read": cost["cache_read_tokens"].map(fmt_int),
            "cache write": cost["cache_write_tokens"].map(fmt_int), "output": cost["output_tokens"].map(fmt_int),
            "USD": cost["usd"].map(lambda v: "—" if _nan(v) else f"{v:,.2f}"),
            "priced by": cost["priced_by"].map({"log": "the run (--model-cost-config)", "prices": "analysis/prices.yaml", "none": "no price"}),
        }
    )


def _grader(run: Run) -> str | None:
    config = (run.log.eval.model_roles or {}).get("grader")
    return str(config.model) if config is not None else None


def run_card(runs: Sequence[Run]) -> pd.DataFrame:
    """What produced each log: model, task, grader, dataset, n, votes, temperature, epochs, versions, prompt set."""
    rows = []
    for run in runs:
        args = dict(run.log.eval.task_args or {})
        meta = run.metadata
        prompt = ["scratchpad" if meta.get("cot", True) else "no scratchpad"]
        prompt += [f"variant {run.variants}"] if run.variants else []
        prompt += [f"paraphrases {run.paraphrases}"] if run.paraphrases else []
        prompt += [f"prefill {meta['prefill']}"] if meta.get("prefill") else []
        prompt += [f"{k} {Path(str(args[k])).name}" for k in ("system_template", "user_template") if args.get(k)]
        prompt += [f"lab {args['lab']}"] if args.get("lab") else []
        results = run.log.results
        rows.append(
            {
                "model": run.label,
                "task": run.task,
                "grader": _grader(run) or "openai/gpt-4o (default)",
                "dataset": str(meta.get("dataset", args.get("dataset", ""))),
                "queries": fmt_int(meta.get("n_queries", NAN)),
                "samples": fmt_int(results.completed_samples if results else NAN) + f" / {fmt_int(results.total_samples if results else NAN)}",
                "AF votes": str(args.get("af_votes", 20)),
                "temperature": str(args.get("temperature", 0.0)),
                "epochs": str(run.log.eval.config.epochs or 1),
                "suite": str(meta.get("full_task_version", run.log.eval.task_version)),
                "Inspect": str((run.log.eval.packages or {}).get("inspect_ai", "")),
                "prompt set": "; ".join(prompt),
                "date": str(run.log.eval.created)[:10],
                "log": run.path,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------- formatting


def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_pct(value: Any) -> str:
    """A share as a percentage with one decimal (``0.55`` -> ``55.0%``), ``n/a`` for NaN."""
    return "n/a" if _nan(value) else f"{100 * float(value):.1f}%"


def fmt_ci(low: Any, high: Any) -> str:
    return "n/a" if _nan(low) or _nan(high) else f"[{fmt_pct(low)}, {fmt_pct(high)}]"


def fmt_rate(value: Any, low: Any = NAN, high: Any = NAN) -> str:
    """A rate with its 95% interval when the log has one: ``55.0% [44.6, 64.4]``."""
    if _nan(value):
        return "n/a"
    return fmt_pct(value) + ("" if _nan(low) or _nan(high) else f" [{100 * float(low):.1f}, {100 * float(high):.1f}]")


def fmt_pp(value: Any, low: Any = NAN, high: Any = NAN) -> str:
    """A difference in percentage points with its interval: ``+43.0 pp [29.6, 54.3]``."""
    if _nan(value):
        return "n/a"
    text = f"{100 * float(value):+.1f} pp"
    return text + ("" if _nan(low) or _nan(high) else f" [{100 * float(low):+.1f}, {100 * float(high):+.1f}]")


def fmt_p(value: Any) -> str:
    if _nan(value):
        return "n/a"
    return "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def fmt_int(value: Any) -> str:
    return "n/a" if _nan(value) else f"{int(round(float(value))):,}"


def fmt_flag(value: Any, yes: str = "yes", no: str = "no") -> str:
    return "n/a" if _nan(value) else (yes if float(value) == 1.0 else no)


def setting_text(variants: str, paraphrases: str) -> str:
    parts = [variants] if variants else []
    if paraphrases:
        parts.append(f"paraphrases {paraphrases}")
    return "; ".join(parts) if parts else "—"


@dataclass
class Section:
    """One task and setting (task, scenario, variants, paraphrases): its title, runs and rows."""

    key: tuple[str, str, str, str]
    title: str
    slug: str
    runs: list[Run]
    results: pd.DataFrame

    @property
    def grid(self) -> bool:
        """A pre-deployment style grid: every condition has a ``process`` and a ``deployment``."""
        run = self.runs[0]
        return bool(run.conditions()) and all({"process", "deployment"} <= set(run.facts(c)) for c in run.conditions())


def sections(runs: Sequence[Run], results: pd.DataFrame) -> list[Section]:
    out: list[Section] = []
    for key in dict.fromkeys(run.setting for run in runs):
        members = [run for run in runs if run.setting == key]
        task, scenario, variants, paraphrases = key
        title = task if scenario in ("", task) else f"{task} (scenario {scenario})"
        setting = setting_text(variants, paraphrases)
        title += "" if setting == "—" else f" · {setting}"
        shared = sum(1 for other in dict.fromkeys(r.setting for r in runs) if other[0] == task) > 1
        parts = [task, scenario, variants, paraphrases] if shared else [task]
        slug = re.sub(r"[^a-z0-9]+", "_", "_".join(p for p in parts if p).lower()).strip("_")
        rows = results[results["log"].isin([r.path for r in members])]
        out.append(Section(key, title, slug, members, rows))
    return out


def condition_table(results: pd.DataFrame, with_setting: bool = True) -> pd.DataFrame:
    """Model × condition rows: compliance, AF and partial with 95% intervals, invalid, grader failed, n."""
    conditions = results[results["kind"] == "condition"]
    rows = []
    for (_, name), group in conditions.groupby(["log", "name"], sort=False):
        first = group.iloc[0]
        by = {row["measure"]: row for _, row in group.iterrows()}

        def rate(measure: str) -> str:
            row = by.get(measure)
            return "n/a" if row is None else fmt_rate(row["value"], row["ci_low"], row["ci_high"])

        row = {"model": first["run"]}
        if with_setting:
            row.update(task=first["task"], scenario=first["scenario"], variants=setting_text(first["variants"], first["paraphrases"]))
        row.update(
            {
                "condition": first["label"],
                "compliance [95% CI]": rate("compliance"),
                "AF [95% CI]": rate("af"),
                "partial": fmt_pct(by["partial"]["value"]) if "partial" in by else "n/a",
                "invalid": fmt_int(by["invalid"]["value"]) if "invalid" in by else "n/a",
                "grader failed": fmt_int(by["grader_failed"]["value"]) if "grader_failed" in by else "n/a",
                "n": fmt_int(first["n"]),
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def contrast_table(results: pd.DataFrame, with_setting: bool = True) -> pd.DataFrame:
    """Every contrast: the difference in points with its 95% interval, p, queries and the flags."""
    contrasts = results[results["kind"] == "contrast"]
    rows = []
    for _, row in contrasts.iterrows():
        per_paraphrase = bool(row["paraphrase"])
        out = {"model": row["run"]}
        if with_setting:
            out.update(task=row["task"], scenario=row["scenario"], variants=setting_text(row["variants"], row["paraphrases"]))
        out.update(
            {
                "contrast": f"{row['name']} [{row['paraphrase']}]" if per_paraphrase else row["name"],
                "definition": row["label"],
                "difference [95% CI]": fmt_pp(row["value"], row["ci_low"], row["ci_high"]),
                "p": "—" if per_paraphrase else fmt_p(row["p"]),
                "queries": "—" if per_paraphrase else fmt_int(row["n"]),
                "above the 1-point cut": "—" if per_paraphrase else fmt_flag(row["above_cut"]),
                "underpowered": "—" if per_paraphrase else fmt_flag(row["underpowered"], yes="underpowered", no=""),
            }
        )
        rows.append(out)
    return pd.DataFrame(rows)


def auxiliary_table(part: Section) -> pd.DataFrame:
    """The optional scorers' shares per condition (why the model decided, the AF motive, follow-up answers):
    a row per model and share, a column per condition."""
    rows = []
    for run in part.runs:
        conditions = sorted(run.conditions(), key=len, reverse=True)  # the longest matching suffix names it
        for key, value in run.metrics.items():
            if not key.startswith(AUXILIARY_PREFIXES):
                continue
            condition = next((c for c in conditions if key.endswith(f"_{c}")), None)
            if condition is not None:
                label = condition_label(condition, run.facts(condition))
                rows.append({"model": _short(run.label or run.model), "share": key[: -len(condition) - 1], "condition": label, "value": fmt_pct(value)})
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    table = frame.pivot_table(index=["model", "share"], columns="condition", values="value", aggfunc="first", sort=False)
    return table.reset_index().rename_axis(columns=None)


def token_table(tokens: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "log": tokens["log"],
            "model": tokens["model"],
            "model input": tokens["model_input_tokens"].map(fmt_int),
            "model output": tokens["model_output_tokens"].map(fmt_int),
            "model total": tokens["model_total_tokens"].map(fmt_int),
            "grader": tokens["grader"],
            "grader input": tokens["grader_input_tokens"].map(fmt_int),
            "grader output": tokens["grader_output_tokens"].map(fmt_int),
            "grader total": tokens["grader_total_tokens"].map(fmt_int),
        }
    )


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (pipes in cells escaped)."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def to_html_table(table: pd.DataFrame, numeric_from: int = 1) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i >= numeric_from and _numeric(v) else ""}>{html.escape(str(v))}</td>' for i, v in enumerate(row)) + "</tr>"
        for row in table.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _numeric(value: Any) -> bool:
    return bool(re.match(r"^[+\-<]?\s?[\d.,]+", str(value)))


NOTES = {
    "card": "What produced each log. Grader: the model bound to role `grader`; AF votes and temperature: the task's "
    "(temperature of the model under test); samples: completed / total; prompt set: the scenario's prompt as run.",
    "conditions": "Share of graded responses that complied, showed alignment-faking (AF) reasoning, or complied partially, "
    "with 95% intervals where the log records them; invalid: responses still invalid after re-sampling; grader failed: "
    "responses with a verdict the grader could not give (left out of that rate, never counted as 0 or 1); n: samples.",
    "contrasts": "Differences of a rate between conditions, in percentage points, with 95% intervals and p (paired by "
    "query); above the 1-point cut: the paper's criterion; underpowered: a null that says little at this n. Rows marked "
    "[pN] are one paraphrase of an ensemble.",
    "auxiliary": "Optional scorers, per condition: why: the motive behind the decision (share of scratchpads); af_motive: "
    "why it reasoned about alignment faking (share of AF scratchpads); followup: the answers to the follow-up questions. "
    "One classifier vote at temperature 0 each; the main verdicts do not depend on them.",
    "tokens": "Tokens per log of the model under test and of the grader (the model bound to role `grader`, or every "
    "other model when none is bound).",
    "cost": "Cost per log and role: the run's own (Inspect's cost tracking, --model-cost-config) where it has one, else "
    "the suite's approximate price table (analysis/prices.yaml); input includes cache reads and writes.",
}


def split_card(card: pd.DataFrame) -> tuple[dict[str, str], pd.DataFrame]:
    """The run card's values every log shares (shown once) and the table of the columns that vary."""
    keep = ("model", "task", "log")
    shared = {c: str(card[c].iloc[0]) for c in card.columns if c not in keep and card[c].nunique() == 1}
    return shared, card[[c for c in card.columns if c not in shared]]


def _shared_line(shared: dict[str, str]) -> str:
    return "Every log: " + " · ".join(f"{k} {v}" for k, v in shared.items()) + "." if shared else ""


def markdown_report(runs: Sequence[Run], skipped: Sequence[Skipped], parts: Sequence[Section], card: pd.DataFrame, tokens: pd.DataFrame) -> str:
    shared, varying = split_card(card)
    lines = ["# Alignment-faking results", "", _logs_line(runs, skipped), "", "## Run card", "", NOTES["card"], ""]
    lines += [_shared_line(shared), "", to_markdown(varying), ""] if shared else [to_markdown(varying), ""]
    for part in parts:
        lines += [f"## {part.title}", ""]
        conditions = condition_table(part.results)
        if not conditions.empty:
            lines += ["### Conditions", "", NOTES["conditions"], "", to_markdown(conditions), ""]
        contrasts = contrast_table(part.results)
        if not contrasts.empty:
            lines += ["### Contrasts", "", NOTES["contrasts"], "", to_markdown(contrasts), ""]
    lines += ["## Tokens", "", NOTES["tokens"], "", to_markdown(token_table(tokens)), ""]
    lines += ["## Cost", "", NOTES["cost"], "", to_markdown(cost_table(cost_frame(runs))), ""]
    return "\n".join(lines)


def _logs_summary(runs: Sequence[Run], skipped: Sequence[Skipped]) -> str:
    line = f"Read {len(runs)} log{'s' if len(runs) != 1 else ''} (listed in the run card)."
    if skipped:
        line += f" Skipped {len(skipped)}: " + "; ".join(f"{s.path} ({s.reason})" for s in skipped) + "."
    return line


def _logs_line(runs: Sequence[Run], skipped: Sequence[Skipped]) -> str:
    line = f"Read {len(runs)} log{'s' if len(runs) != 1 else ''}: " + ", ".join(r.path for r in runs) + "."
    if skipped:
        line += " Skipped: " + "; ".join(f"{s.path} ({s.reason})" for s in skipped) + "."
    return line


# --------------------------------------------------------------------------------------------- figures

PAGE_WIDTH = 6.5  # inches: a page's text width
CATEGORY_STYLE = {  # colour, hatch
    "refusal": ("#9ecae1", ""),
    "refusal_af": ("#9ecae1", "////"),
    "partial": ("#fee391", ""),
    "partial_af": ("#fee391", "////"),
    "compliance": ("#fc8d59", ""),
    "compliance_af": ("#fc8d59", "////"),
    "invalid": ("#969696", ""),
    "ungraded": ("#e0e0e0", "...."),
}
CATEGORY_LABELS = {
    "refusal": "refusal",
    "refusal_af": "refusal, AF reasoning",
    "partial": "partial compliance",
    "partial_af": "partial, AF reasoning",
    "compliance": "compliance",
    "compliance_af": "compliance, AF reasoning",
    "invalid": "invalid response",
    "ungraded": "ungraded",
}
HATCH_COLOR = "#67000d"
MAX_SIDE_BY_SIDE = 6
"""Conditions shown side by side in a category figure; a scenario with more is a grid or gets the tables."""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {"svg.hashsalt": "alignment_faking_report", "hatch.linewidth": 0.6, "font.size": 7, "axes.titlesize": 7, "pdf.fonttype": 42}
    )
    return plt


def _save(fig: Any, out: Path, name: str) -> list[Path]:
    paths = [out / f"{name}.png", out / f"{name}.svg", out / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=300, metadata={"Software": None})
    fig.savefig(paths[1], metadata={"Date": None, "Creator": None})
    fig.savefig(paths[2], metadata={"CreationDate": None, "Creator": None, "Producer": None})
    _pyplot().close(fig)
    return paths


def _short(model: str) -> str:
    """``anthropic/claude-3-opus-20240229`` -> ``claude-3-opus-20240229`` (the provider is in the run card)."""
    return model.split("/", 1)[1] if "/" in model and not model.startswith("organism/") else model


def _shares(part: Section) -> dict[tuple[str, str], dict[str, float]]:
    """(run label, condition) -> category -> share (0–1). Logs without ``cat_invalid`` get invalid / n."""
    shares: dict[tuple[str, str], dict[str, float]] = {}
    rows = part.results[part.results["kind"] == "condition"]
    for (run, name), group in rows.groupby(["run", "name"], sort=False):
        values = dict(zip(group["measure"], group["value"]))
        cell = {c: values.get(f"cat_{c}", NAN) for c in names.CATEGORIES}
        if _nan(cell["invalid"]) and not _nan(values.get("invalid", NAN)) and values.get("n"):
            cell["invalid"] = values["invalid"] / values["n"]
        shares[(run, name)] = cell
    return shares


def categories_figure(part: Section, out: Path) -> list[Path]:
    """Sheshadri et al. Fig. 1 style: models as rows, conditions side by side, each bar the categories' shares."""
    plt = _pyplot()
    shares = _shares(part)
    runs = list(dict.fromkeys(part.results["run"]))
    run0 = part.runs[0]
    conditions = run0.conditions()
    n = {(r, c): v for r, c, v in part.results[(part.results["kind"] == "condition") & (part.results["measure"] == "n")][["run", "name", "value"]].itertuples(index=False)}
    fig, axes = plt.subplots(
        1, len(conditions), figsize=(PAGE_WIDTH, 0.28 * len(runs) + 1.25), sharey=True, squeeze=False, layout="constrained"
    )
    for ax, condition in zip(axes[0], conditions):
        left = [0.0] * len(runs)
        for category in names.CATEGORIES:
            color, hatch = CATEGORY_STYLE[category]
            widths = [100 * (0.0 if _nan(shares.get((r, condition), {}).get(category, NAN)) else shares[(r, condition)][category]) for r in runs]
            ax.barh(
                range(len(runs)), widths, left=left, height=0.7, color=color, hatch=hatch,
                edgecolor=HATCH_COLOR if hatch and category != "ungraded" else ("#7f7f7f" if hatch else "white"),
                linewidth=0.0, label=CATEGORY_LABELS[category],
            )
            left = [a + b for a, b in zip(left, widths)]
        counts = sorted({fmt_int(n.get((r, condition), NAN)) for r in runs})
        label = textwrap.fill(condition_label(condition, run0.facts(condition)), width=max(14, 100 // len(conditions)))
        ax.set_title(f"{label}\nn = {', '.join(counts)}", fontsize=7)
        ax.set_xlim(0, 100)
        ax.set_xticks([0, 50, 100])
        ax.grid(axis="x", color="#d0d0d0", linewidth=0.5)
        ax.set_axisbelow(True)
        ax.tick_params(axis="y", length=0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0, 0].set_yticks(range(len(runs)), [_short(r) for r in runs])
    axes[0, 0].set_ylim(len(runs) - 0.5, -0.5)
    axes[0, 0].set_xlabel("share of responses (%)", fontsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False, fontsize=6.5)
    return _save(fig, out, f"categories_{part.slug}")


def contrasts_figure(part: Section, out: Path) -> list[Path]:
    """Each contrast per model with its 95% interval (percentage points); hollow where the interval spans 0."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    rows = part.results[part.results["kind"] == "contrast"]
    runs = list(dict.fromkeys(rows["run"]))
    palette = plt.get_cmap("tab10")
    colors = {run: palette(i % 10) for i, run in enumerate(runs)}
    order = {name: i for i, name in enumerate(dict.fromkeys(rows["name"]))}
    rows = rows.assign(_c=rows["name"].map(order), _r=rows["run"].map({r: i for i, r in enumerate(runs)})).sort_values(["_c", "_r", "paraphrase"], kind="stable")
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 0.2 * len(rows) + 1.1), layout="constrained")
    labels = []
    for y, (_, row) in enumerate(rows.iterrows()):
        per_paraphrase = bool(row["paraphrase"])
        name = f"{row['name']} [{row['paraphrase']}]" if per_paraphrase else row["name"]
        labels.append(f"{name} · {_short(row['run'])}" if len(runs) > 1 else name)
        if _nan(row["value"]):
            ax.text(0, y, "n/a", va="center", ha="left", fontsize=6, color="grey")
            continue
        value, low, high = (100 * row[k] for k in ("value", "ci_low", "ci_high"))
        spans_zero = not (_nan(low) or _nan(high)) and low <= 0 <= high
        color = colors[row["run"]]
        if not (_nan(low) or _nan(high)):
            ax.plot([low, high], [y, y], color=color, linewidth=0.9 if per_paraphrase else 1.4, solid_capstyle="butt")
        ax.plot([value], [y], linestyle="none", marker="o", markersize=3 if per_paraphrase else 4.5,
                markerfacecolor="white" if spans_zero else color, markeredgecolor=color, markeredgewidth=1.0)
    ax.set_yticks(range(len(labels)), labels, fontsize=6.5)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.axvline(1, color="grey", linewidth=0.6, linestyle=":")
    ax.grid(axis="x", color="#e0e0e0", linewidth=0.5)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("difference (percentage points), 95% interval")
    handles = [Line2D([], [], color=colors[r], marker="o", linewidth=1.4, label=_short(r)) for r in runs] if len(runs) > 1 else []
    handles += [
        Line2D([], [], color="black", marker="o", markerfacecolor="white", linestyle="none", label="interval spans 0"),
        Line2D([], [], color="grey", linestyle=":", label="the paper's 1-point cut"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(4, len(handles)), frameon=False, fontsize=6.5)
    return _save(fig, out, f"contrasts_{part.slug}")


def _grid_axes(run: Run) -> tuple[list[str], list[str]]:
    processes = list(dict.fromkeys(str(run.facts(c)["process"]) for c in run.conditions()))
    deployments = list(dict.fromkeys(str(run.facts(c)["deployment"]) for c in run.conditions()))
    return processes, deployments


def grid_figure(part: Section, out: Path) -> list[Path]:
    """Pre-deployment: the compliance rate of each process × deployment cell, a panel per model."""
    plt = _pyplot()
    import numpy as np

    runs = part.runs
    processes, deployments = _grid_axes(runs[0])
    fig, axes = plt.subplots(
        len(runs), 1, figsize=(PAGE_WIDTH, (0.28 * len(processes) + 0.45) * len(runs) + 1.1), squeeze=False, layout="constrained"
    )
    for ax, run in zip(axes[:, 0], runs):
        cells = {(str(run.facts(c)["process"]), str(run.facts(c)["deployment"])): c for c in run.conditions()}
        values = np.array([[100 * run.metrics.get(f"compliance_{cells.get((p, d), '')}", NAN) for d in deployments] for p in processes])
        image = ax.imshow(np.ma.masked_invalid(values), cmap="Oranges", vmin=0, vmax=100, aspect="auto")
        for i, p in enumerate(processes):
            for j, d in enumerate(deployments):
                condition = cells.get((p, d))
                if condition is None:
                    continue
                value = values[i, j]
                ax.text(j, i, "n/a" if math.isnan(value) else f"{value:.0f}", ha="center", va="center", fontsize=6, color="white" if value > 60 else "black")
        ax.set_yticks(range(len(processes)), [p.replace("_", " ") for p in processes])
        ax.set_xticks(range(len(deployments)), [d.replace("_", " ") for d in deployments] if ax is axes[-1, 0] else [""] * len(deployments), rotation=30, ha="right")
        ax.set_title(_short(run.label), loc="left", fontsize=7, fontweight="bold")
    fig.colorbar(image, ax=axes[:, 0].tolist(), label="compliance (%)", shrink=0.8)
    return _save(fig, out, f"grid_{part.slug}")


def gaps_figure(part: Section, out: Path) -> list[Path]:
    """Pre-deployment: each contrast family (goal guarding, other AI, AF) per deployment, per model, in points;
    cells whose 95% interval spans 0 are hatched and faded."""
    plt = _pyplot()
    import numpy as np
    from matplotlib.patches import Rectangle

    rows = part.results[(part.results["kind"] == "contrast") & (part.results["paraphrase"] == "")]
    _, deployments = _grid_axes(part.runs[0])
    families = []
    for name in dict.fromkeys(rows["name"]):
        for deployment in sorted(deployments, key=len, reverse=True):  # the longest deployment suffix that matches
            if name.endswith("_" + deployment):
                families.append(name[: -len(deployment) - 1])
                break
    families = list(dict.fromkeys(families))
    runs = list(dict.fromkeys(rows["run"]))
    labels = [f"{f.replace('_', ' ')} · {_short(r)}" if len(runs) > 1 else f.replace("_", " ") for r in runs for f in families]
    cells = {(r, name): row for r, name, row in ((row["run"], row["name"], row) for _, row in rows.iterrows())}
    values = np.array([[100 * cells[(r, f"{f}_{d}")]["value"] if (r, f"{f}_{d}") in cells else np.nan for d in deployments] for r in runs for f in families])
    finite = np.abs(values[np.isfinite(values)])
    limit = 10.0 * math.ceil(max(5.0, float(finite.max()) if finite.size else 0.0) / 10.0)
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 0.3 * len(labels) + 1.6), layout="constrained")
    image = ax.imshow(np.ma.masked_invalid(values), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    for i, (r, f) in enumerate((r, f) for r in runs for f in families):
        for j, d in enumerate(deployments):
            row = cells.get((r, f"{f}_{d}"))
            if row is None or _nan(row["value"]):
                continue
            low, high = row["ci_low"], row["ci_high"]
            uncertain = _nan(low) or _nan(high) or low <= 0 <= high
            if uncertain:  # fade and hatch: the interval includes no difference
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white", alpha=0.55, edgecolor="#9e9e9e", hatch="////", linewidth=0))
            ax.text(j, i, f"{100 * row['value']:+.0f}", ha="center", va="center", fontsize=6, color="black" if uncertain or abs(values[i, j]) < 0.6 * limit else "white")
    ax.set_xticks(range(len(deployments)), [d.replace("_", " ") for d in deployments], rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    fig.colorbar(image, ax=ax, label="difference (percentage points)", shrink=0.9)
    ax.set_title("hatched: the 95% interval includes 0", loc="left", fontsize=6.5, color="#555")
    return _save(fig, out, f"gaps_{part.slug}")


def headline_contrast(run: Run) -> str | None:
    """The run's main contrast: the first contrast among its metrics (the log leads with it)."""
    contrasts = {c["name"] for c in run.contrasts()}
    return next((name for name in run.metrics if name in contrasts), None)


def spread_figure(part: Section, out: Path) -> list[Path] | None:
    """A paraphrase ensemble's headline contrast per paraphrase with its interval, over the pooled estimate,
    a panel per model (``analysis.spread``); None when no run has two or more paraphrases."""
    panels = []
    for run in part.runs:
        name = headline_contrast(run)
        frame = spread_frame(run.metrics, name) if name else None
        if frame is not None and len(frame) >= 2:
            pooled = tuple(run.metrics.get(key, NAN) for key in (name, f"{name}_ci_low", f"{name}_ci_high"))
            panels.append((run, name, frame, pooled))
    if not panels:
        return None
    plt = _pyplot()
    heights = [0.6 + 0.2 * max(3, len(frame)) for _, _, frame, _ in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(PAGE_WIDTH, sum(heights) + 0.3), squeeze=False, layout="constrained",
                             gridspec_kw={"height_ratios": heights})
    for ax, (run, name, frame, pooled) in zip(axes[:, 0], panels):
        draw_spread(ax, frame, pooled, name)  # type: ignore[arg-type]
        ax.set_title(_short(run.label or run.model), loc="left", fontsize=7)
    return _save(fig, out, f"spread_{part.slug}")


def section_figures(part: Section, out: Path) -> dict[str, list[Path]]:
    """The figures of one section: name -> written files (PNG, SVG, PDF)."""
    figures: dict[str, list[Path]] = {}
    has_contrasts = (part.results["kind"] == "contrast").any()
    if part.grid:
        figures["grid"] = grid_figure(part, out)
        if has_contrasts:
            figures["gaps"] = gaps_figure(part, out)
        return figures
    if len(part.runs[0].conditions()) <= MAX_SIDE_BY_SIDE and part.results["measure"].str.startswith("cat_").any():
        figures["categories"] = categories_figure(part, out)
    if has_contrasts:
        figures["contrasts"] = contrasts_figure(part, out)
        spread = spread_figure(part, out)
        if spread:
            figures["spread"] = spread
    return figures


CAPTIONS = {
    "categories": "Share of responses in each category, per model (rows) and condition (columns), after Sheshadri et al. "
    "2025 Fig. 1; hatched segments show alignment-faking reasoning; grey: invalid responses; dotted: ungraded.",
    "contrasts": "Each contrast with its 95% interval, in percentage points; hollow points: the interval includes 0; "
    "dotted line: the paper's 1-point cut.",
    "grid": "Compliance rate (%) for each pre-deployment process (rows) and deployment (columns), a panel per model.",
    "spread": "A paraphrase ensemble: the main contrast under each paraphrase (p0: the original prompt) with its 95% "
    "interval, over the pooled estimate and its interval (shaded), a panel per model.",
    "gaps": "Each process contrast per deployment (percentage points; minuend − subtrahend as in the contrast table); "
    "hatched, faded cells: the 95% interval includes 0.",
}


# --------------------------------------------------------------------------------------------- page

PAGE_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; } h3 { font-size: 1.05em; }
nav ol { columns: 2; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.78em; width: 100%; table-layout: auto; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.45em; text-align: left; vertical-align: top; overflow-wrap: break-word; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
th { background: #f2f2f2; }
tbody tr:nth-child(even) { background: #fafafa; }
figure { margin: 1em 0 1.5em; }
figure img { width: 100%; height: auto; }
.note, figcaption { color: #555; font-size: 0.85em; }
"""


def _figure_html(name: str, kind: str, paths: list[Path]) -> str:
    svg = next(p for p in paths if p.suffix == ".svg")
    data = base64.b64encode(svg.read_bytes()).decode("ascii")
    links = " · ".join(f'<a href="{html.escape(p.name)}">{p.suffix[1:].upper()}</a>' for p in paths)
    return (
        f'<figure id="{html.escape(name)}"><img alt="{html.escape(name)}" src="data:image/svg+xml;base64,{data}">'
        f"<figcaption>{html.escape(CAPTIONS[kind])} ({links})</figcaption></figure>"
    )


def html_page(
    runs: Sequence[Run], skipped: Sequence[Skipped], parts: Sequence[Section], figures: dict[str, dict[str, list[Path]]],
    card: pd.DataFrame, tokens: pd.DataFrame,
) -> str:
    toc = ['<li><a href="#run-card">Run card</a></li>']
    toc += [f'<li><a href="#{html.escape(p.slug)}">{html.escape(p.title)}</a></li>' for p in parts]
    toc += ['<li><a href="#tokens">Tokens</a></li>', '<li><a href="#cost">Cost</a></li>']
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Alignment-faking results</title>',
        f"<style>{PAGE_STYLE}</style></head><body>",
        "<h1>Alignment-faking results</h1>",
        f'<p class="note">{html.escape(_logs_summary(runs, skipped))}</p>',
        f"<nav><ol>{''.join(toc)}</ol></nav>",
        '<h2 id="run-card">Run card</h2>',
        f'<p class="note">{html.escape(NOTES["card"])}</p>',
    ]
    shared, varying = split_card(card)
    if shared:
        body.append(f"<p>{html.escape(_shared_line(shared))}</p>")
    body.append(to_html_table(varying, numeric_from=99))
    for part in parts:
        body.append(f'<h2 id="{html.escape(part.slug)}">{html.escape(part.title)}</h2>')
        paper = part.runs[0].metadata.get("paper")
        title = part.runs[0].metadata.get("scenario_title")
        if title or paper:
            body.append(f'<p class="note">{html.escape(" — ".join(str(x) for x in (title, paper) if x))}</p>')
        for kind, paths in figures.get(part.slug, {}).items():
            body.append(_figure_html(f"{kind}_{part.slug}", kind, paths))
        conditions = condition_table(part.results, with_setting=False)
        if not conditions.empty:
            body += ["<h3>Conditions</h3>", f'<p class="note">{html.escape(NOTES["conditions"])}</p>', to_html_table(conditions, numeric_from=2)]
        contrasts = contrast_table(part.results, with_setting=False)
        if not contrasts.empty:
            body += ["<h3>Contrasts</h3>", f'<p class="note">{html.escape(NOTES["contrasts"])}</p>', to_html_table(contrasts, numeric_from=3)]
        auxiliary = auxiliary_table(part)
        if not auxiliary.empty:
            body += ["<h3>Motives and follow-up answers</h3>", f'<p class="note">{html.escape(NOTES["auxiliary"])}</p>', to_html_table(auxiliary, numeric_from=2)]
    body += ['<h2 id="tokens">Tokens</h2>', f'<p class="note">{html.escape(NOTES["tokens"])}</p>', to_html_table(token_table(tokens), numeric_from=2)]
    body += ['<h2 id="cost">Cost</h2>', f'<p class="note">{html.escape(NOTES["cost"])}</p>', to_html_table(cost_table(cost_frame(runs)), numeric_from=3)]
    body.append("</body></html>")
    return "\n".join(body)


# --------------------------------------------------------------------------------------------- entry

FIGURE_PREFIXES = ("categories", "contrasts", "grid", "gaps", "deployment_heatmap", "spread")


def build_report(logdir: str | Path, out: str | Path) -> dict[str, Any]:
    """Read the logs under ``logdir`` and write the report into ``out``; returns what was written."""
    runs, skipped = read_runs(logdir)
    if not runs:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped)
        raise ReportError(f"no log in {logdir} has alignment-faking results ({reasons})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for prefix in FIGURE_PREFIXES:  # no stale figure from an earlier report in the same folder
        for stale in out.glob(f"{prefix}*"):
            if stale.suffix in (".png", ".svg", ".pdf"):
                stale.unlink()

    results = results_frame(runs)
    tokens = tokens_frame(runs)
    card = run_card(runs)
    parts = sections(runs, results)
    results[COLUMNS].to_csv(out / "results.csv", index=False)
    tokens.to_csv(out / "tokens.csv", index=False)
    card.to_csv(out / "run_card.csv", index=False)
    (out / "table.md").write_text(markdown_report(runs, skipped, parts, card, tokens), encoding="utf-8")
    written = [out / "results.csv", out / "tokens.csv", out / "run_card.csv", out / "table.md"]
    figures = {part.slug: section_figures(part, out) for part in parts}
    written += [path for per_part in figures.values() for paths in per_part.values() for path in paths]
    (out / "index.html").write_text(html_page(runs, skipped, parts, figures, card, tokens), encoding="utf-8")
    written.append(out / "index.html")
    return {"runs": runs, "skipped": skipped, "written": written, "results": results, "tokens": tokens, "sections": parts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logdir", help="a folder of eval logs (one run, an eval-set, a sweep), or one eval log")
    parser.add_argument("--out", default="reports/report", help="folder to write the report into (default: reports/report)")
    args = parser.parse_args(argv)
    try:
        report = build_report(args.logdir, args.out)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for skipped in report["skipped"]:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    print(f"read {len(report['runs'])} log(s) from {args.logdir}; wrote {len(report['written'])} files into {args.out}, "
          f"open {Path(args.out) / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
