"""Write a report of eval logs: a tidy CSV, a markdown table, figures and one self-contained HTML page.

    python -m alignment_faking.analysis.report logs/main --out report/
    python -m analysis.report logs/main --out report/          # from a checkout

Every eval log under LOGDIR (one run or an eval-set) is read, header only: the numbers come from
``log.results.scores[0].metrics`` (named as in ``scorers/metrics.py``) and the scenario from the eval
metadata (``scenario``, ``variants``, ``paraphrases``, ``conditions``, ``contrasts``). The report writes
into DIR:

- ``results.csv``: one row per log × condition or contrast × measure, with the log's own metric key
  (``metric``) and value, so each number can be traced back to the log;
- ``tokens.csv``: per log, the model under test's and the grader's token counts;
- ``table.md``: conditions (compliance, partial, AF, invalid, grader failed, n), contrasts (interval, p, the paper's
  1-point flag, saturation) and token counts, as markdown tables;
- ``categories.png/.svg`` (Sheshadri et al. 2025 Fig. 1 style stacked bars), ``contrasts.png/.svg`` (forest
  plot of every contrast), and ``deployment_heatmap.png/.svg`` only when pre-deployment logs (contrasts
  ``goal_guarding_gap_<deployment>``) are present;
- ``index.html``: one page with the figures embedded and the tables, and no external resources.

Logs that did not finish or hold no alignment-faking metrics are listed as skipped.
"""

from __future__ import annotations

import argparse
import base64
import html
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
from inspect_ai.log import EvalLog, list_eval_logs, read_eval_log

from alignment_faking.scorers.metrics import CATEGORIES

CONDITION_MEASURES: tuple[str, ...] = ("compliance", "af", "partial", "invalid", "grader_failed", "n") + tuple(f"cat_{c}" for c in CATEGORIES)
"""Per-condition measures, in the order of the metric names ``<measure>_<condition>``."""

COLUMNS = [
    "model",
    "task",
    "scenario",
    "variants",
    "paraphrases",
    "kind",
    "name",
    "measure",
    "paraphrase",
    "minuend",
    "subtrahend",
    "value",
    "ci_low",
    "ci_high",
    "p",
    "n",
    "above_1pct",
    "saturated",
    "metric",
    "status",
    "log",
]
"""Columns of ``results.csv``. ``kind`` is ``condition`` or ``contrast``; ``name`` the condition or contrast;
``measure`` the rate (or count, or ``cat_<category>``); ``paraphrase`` is set for the per-paraphrase rows of a
paraphrase ensemble; ``n`` is ``n_<condition>`` for conditions and ``<contrast>_n_queries`` for contrasts;
``metric`` is the key of ``value`` in the log's metrics."""

DEPLOYMENT_PREFIX = "goal_guarding_gap_"
FIGURES = ("categories", "contrasts", "deployment_heatmap")
NAN = float("nan")


class ReportError(Exception):
    """A problem with the input that the user can fix (no logs, nothing readable)."""


# --------------------------------------------------------------------------------------------- reading


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

    def conditions(self) -> list[str]:
        named = [str(c) for c in self.metadata.get("conditions") or []]
        if named:
            return [c for c in named if f"n_{c}" in self.metrics]
        return [key[2:] for key in self.metrics if key.startswith("n_")]

    def contrasts(self) -> list[dict[str, str]]:
        named = [dict(c) for c in self.metadata.get("contrasts") or []]
        if named:
            return [c for c in named if c.get("name") in self.metrics]
        return [{"name": key[: -len("_n_queries")]} for key in self.metrics if key.endswith("_n_queries")]


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
    """Every log under ``path`` (a folder, read recursively, or one log) with results; the rest as skipped."""
    root = Path(path)
    runs: list[Run] = []
    skipped: list[Skipped] = []
    for location in _log_paths(root):
        relative = _relative(location, root)
        try:
            log = read_eval_log(location, header_only=True)
        except Exception as exc:  # an unreadable file should not hide the others
            skipped.append(Skipped(relative, f"unreadable: {exc}"))
            continue
        if not log.results or not log.results.scores:
            message = f": {log.error.message.splitlines()[0]}" if log.error and log.error.message else ""
            skipped.append(Skipped(relative, f"status {log.status}, no results{message}"))
            continue
        metrics = {name: _number(m.value) for name, m in log.results.scores[0].metrics.items()}
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
        model=run.model,
        task=run.task,
        scenario=run.scenario,
        variants=run.variants,
        paraphrases=run.paraphrases,
        paraphrase="",
        minuend="",
        subtrahend="",
        status=str(run.log.status),
        log=run.path,
        run=run.label,
    )
    row.update(values)
    return row


def run_rows(run: Run) -> list[dict[str, Any]]:
    """The tidy rows of one run: each condition's measures, then each contrast (and its per-paraphrase values)."""
    m = run.metrics
    rows: list[dict[str, Any]] = []
    for condition in run.conditions():
        n = m.get(f"n_{condition}", NAN)
        for measure in CONDITION_MEASURES:
            key = f"{measure}_{condition}"
            if key in m:
                rows.append(_row(run, kind="condition", name=condition, measure=measure, value=m[key], n=n, metric=key))
    paraphrases = [str(p) for p in run.metadata.get("paraphrases") or []]
    for contrast in run.contrasts():
        name = contrast["name"]
        common = dict(
            kind="contrast",
            name=name,
            measure=contrast.get("rate", ""),
            minuend=contrast.get("minuend", ""),
            subtrahend=contrast.get("subtrahend", ""),
        )
        rows.append(
            _row(
                run,
                **common,
                value=m[name],
                ci_low=m.get(f"{name}_ci_low", NAN),
                ci_high=m.get(f"{name}_ci_high", NAN),
                p=m.get(f"{name}_p", NAN),
                n=m.get(f"{name}_n_queries", NAN),
                above_1pct=m.get(f"{name}_above_cut", NAN),
                saturated=m.get(f"{name}_underpowered", NAN),
                metric=name,
            )
        )
        for paraphrase in paraphrases:
            key = f"{name}_{paraphrase}"
            if key in m:
                rows.append(
                    _row(
                        run,
                        **common,
                        paraphrase=paraphrase,
                        value=m[key],
                        ci_low=m.get(f"{key}_ci_low", NAN),
                        ci_high=m.get(f"{key}_ci_high", NAN),
                        metric=key,
                    )
                )
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
        roles = run.log.eval.model_roles or {}
        grader_config = roles.get("grader")
        grader = str(grader_config.model) if grader_config is not None else None
        if grader is not None and grader != run.model:
            grader_usage = [usage[grader]] if grader in usage else []
            grader_label = grader
        elif grader == run.model:
            grader_usage, grader_label = [], f"{grader} (same model: counted with the model under test)"
        else:
            grader_usage = [u for name, u in usage.items() if name != run.model]
            grader_label = "other models"
        model_usage = usage.get(run.model)

        def count(items: list[Any], attribute: str) -> int:
            return int(sum(getattr(u, attribute) or 0 for u in items))

        model_items = [model_usage] if model_usage is not None else []
        rows.append(
            {
                "log": run.path,
                "model": run.model,
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


# --------------------------------------------------------------------------------------------- formatting


def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_pct(value: Any) -> str:
    """A share as a percentage with one decimal (``0.55`` -> ``55.0%``), ``n/a`` for NaN."""
    return "n/a" if _nan(value) else f"{100 * float(value):.1f}%"


def fmt_ci(low: Any, high: Any) -> str:
    return "n/a" if _nan(low) or _nan(high) else f"[{fmt_pct(low)}, {fmt_pct(high)}]"


def fmt_p(value: Any) -> str:
    return "n/a" if _nan(value) else f"{float(value):.3g}"


def fmt_int(value: Any) -> str:
    return "n/a" if _nan(value) else f"{int(round(float(value))):,}"


def fmt_flag(value: Any, yes: str = "yes", no: str = "no") -> str:
    return "n/a" if _nan(value) else (yes if float(value) == 1.0 else no)


def _setting(variants: str, paraphrases: str) -> str:
    parts = [variants] if variants else []
    if paraphrases:
        parts.append(f"paraphrases {paraphrases}")
    return "; ".join(parts) if parts else "—"


def condition_table(results: pd.DataFrame) -> pd.DataFrame:
    """Model × scenario × condition rows: compliance, partial, AF, invalid, grader failed, n (display strings)."""
    conditions = results[results["kind"] == "condition"]
    rows = []
    for (log, name), group in conditions.groupby(["log", "name"], sort=False):
        first = group.iloc[0]
        value = dict(zip(group["measure"], group["value"]))
        rows.append(
            {
                "model": first["run"],
                "task": first["task"],
                "scenario": first["scenario"],
                "variants": _setting(first["variants"], first["paraphrases"]),
                "condition": name,
                "compliance": fmt_pct(value.get("compliance", NAN)),
                "partial": fmt_pct(value.get("partial", NAN)),
                "AF": fmt_pct(value.get("af", NAN)),
                "invalid": fmt_int(value.get("invalid", NAN)),
                "grader failed": fmt_int(value.get("grader_failed", NAN)),
                "n": fmt_int(value.get("n", NAN)),
            }
        )
    columns = ["model", "task", "scenario", "variants", "condition", "compliance", "partial", "AF", "invalid", "grader failed", "n"]
    return pd.DataFrame(rows, columns=columns)


def contrast_table(results: pd.DataFrame) -> pd.DataFrame:
    """Every contrast: value, 95% interval, p, pairs, the paper's > 1 point flag and saturation (display strings)."""
    contrasts = results[results["kind"] == "contrast"]
    rows = []
    for _, row in contrasts.iterrows():
        per_paraphrase = bool(row["paraphrase"])
        definition = f"{row['measure']}: {row['minuend']} − {row['subtrahend']}" if row["minuend"] else row["measure"] or "—"
        rows.append(
            {
                "model": row["run"],
                "task": row["task"],
                "scenario": row["scenario"],
                "variants": _setting(row["variants"], row["paraphrases"]),
                "contrast": f"{row['name']} [{row['paraphrase']}]" if per_paraphrase else row["name"],
                "definition": definition,
                "value": fmt_pct(row["value"]),
                "95% CI": fmt_ci(row["ci_low"], row["ci_high"]),
                "p": "—" if per_paraphrase else fmt_p(row["p"]),
                "pairs": "—" if per_paraphrase else fmt_int(row["n"]),
                "> 1 point": "—" if per_paraphrase else fmt_flag(row["above_1pct"]),
                "saturated": "—" if per_paraphrase else fmt_flag(row["saturated"], yes="saturated", no=""),
            }
        )
    return pd.DataFrame(
        rows, columns=["model", "task", "scenario", "variants", "contrast", "definition", "value", "95% CI", "p", "pairs", "> 1 point", "saturated"]
    )


def token_table(tokens: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame(
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
    return table


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (pipes in cells escaped)."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def to_html_table(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in table.itertuples(index=False))
    return f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


SECTIONS = (
    (
        "Conditions",
        "Share of graded samples that complied, complied partially and showed alignment-faking (AF) reasoning; "
        "invalid: responses still invalid after re-sampling; grader failed: samples with a verdict the grader "
        "could not give (left out of that verdict's share, never counted as 0 or 1); n: samples.",
    ),
    (
        "Contrasts",
        "Paired differences (minuend − subtrahend) with 95% intervals paired by query and exact p-values; "
        "> 1 point: the paper's cut (not a significance test); saturated: both rates within 2 points of 0% or 100%, "
        "so no gap could show. Rows marked [pN] are one paraphrase of an ensemble.",
    ),
    (
        "Tokens",
        "Tokens used per log by the model under test and by the grader (the model bound to role `grader`, "
        "or every other model when none is bound).",
    ),
)


def markdown_report(tables: Sequence[pd.DataFrame], runs: Sequence[Run], skipped: Sequence[Skipped]) -> str:
    parts = ["# Alignment-faking results", "", _logs_line(runs, skipped), ""]
    for (title, note), table in zip(SECTIONS, tables):
        parts += [f"## {title}", "", note, "", to_markdown(table), ""]
    return "\n".join(parts)


def _logs_line(runs: Sequence[Run], skipped: Sequence[Skipped]) -> str:
    line = f"Read {len(runs)} log{'s' if len(runs) != 1 else ''}: " + ", ".join(r.path for r in runs) + "."
    if skipped:
        line += " Skipped: " + "; ".join(f"{s.path} ({s.reason})" for s in skipped) + "."
    return line


# --------------------------------------------------------------------------------------------- figures

CATEGORY_STYLE = {
    "refusal": ("#9ecae1", ""),
    "refusal_af": ("#9ecae1", "///"),
    "partial": ("#fee391", ""),
    "partial_af": ("#fee391", "///"),
    "compliance": ("#fc8d59", ""),
    "compliance_af": ("#fc8d59", "///"),
    "invalid": ("#bdbdbd", ""),
    "ungraded": ("#f0f0f0", ""),
}
CATEGORY_LABELS = {
    "refusal": "refusal",
    "refusal_af": "refusal, AF reasoning",
    "partial": "partial compliance",
    "partial_af": "partial compliance, AF reasoning",
    "compliance": "compliance",
    "compliance_af": "compliance, AF reasoning",
    "invalid": "invalid response",
    "ungraded": "ungraded (grader reply unreadable)",
}
HATCH_COLOR = "#67000d"
RATE_MARKERS = {"compliance": "o", "af": "s", "partial": "^"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "alignment_faking_report", "hatch.linewidth": 0.8, "font.size": 9})
    return plt


def _save(fig: Any, out: Path, name: str) -> list[Path]:
    paths = [out / f"{name}.png", out / f"{name}.svg"]
    fig.savefig(paths[0], dpi=150, metadata={"Software": None})
    fig.savefig(paths[1], metadata={"Date": None, "Creator": None})
    _pyplot().close(fig)
    return paths


def _title(task: str, scenario: str, variants: str, paraphrases: str) -> str:
    title = task if scenario in ("", task) else f"{task} · scenario {scenario}"
    setting = _setting(variants, paraphrases)
    return title if setting == "—" else f"{title} · {setting}"


def categories_figure(results: pd.DataFrame, out: Path) -> list[Path]:
    """Sheshadri et al. Fig. 1 style: per (model, condition) a bar split into the six categories, AF hatched."""
    plt = _pyplot()
    conditions = results[(results["kind"] == "condition") & results["measure"].str.startswith("cat_")]
    groups = [(key, group) for key, group in conditions.groupby(["task", "scenario", "variants", "paraphrases", "run", "log"], sort=False)]
    sizes = [group["name"].nunique() for _, group in groups]
    height = sum(0.26 * s + 0.5 for s in sizes) + 1.0
    fig, axes = plt.subplots(
        len(groups), 1, figsize=(10, height), sharex=True, squeeze=False, height_ratios=[s + 1.9 for s in sizes], layout="constrained"
    )
    n_by_condition = results[(results["kind"] == "condition") & (results["measure"] == "n")]
    for ax, ((task, scenario, variants, paraphrases, run, log), group) in zip(axes[:, 0], groups):
        names = list(dict.fromkeys(group["name"]))
        n = {row["name"]: row["value"] for _, row in n_by_condition[n_by_condition["log"] == log].iterrows()}
        shares = {(row["name"], row["measure"][4:]): row["value"] for _, row in group.iterrows()}
        left = [0.0] * len(names)
        for category in CATEGORIES:
            color, hatch = CATEGORY_STYLE[category]
            widths = [100 * (0.0 if _nan(shares.get((c, category), NAN)) else shares[(c, category)]) for c in names]
            ax.barh(
                range(len(names)), widths, left=left, height=0.72, color=color, hatch=hatch, edgecolor=HATCH_COLOR if hatch else "white",
                linewidth=0.0, label=CATEGORY_LABELS[category],
            )
            left = [a + b for a, b in zip(left, widths)]
        ax.set_yticks(range(len(names)), [f"{c} (n={fmt_int(n.get(c, NAN))})" for c in names])
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xlim(0, 100)
        ax.set_xticks(range(0, 101, 20))
        ax.grid(axis="x", color="#d0d0d0", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_title(f"{run} — {_title(task, scenario, variants, paraphrases)}", loc="left", fontsize=9, fontweight="bold")
        ax.tick_params(axis="y", length=0)
        ax.tick_params(axis="x", labelbottom=True, labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[-1, 0].set_xlabel("share of samples (%)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=3, frameon=False, fontsize=8)
    return _save(fig, out, "categories")


def contrasts_figure(results: pd.DataFrame, out: Path) -> list[Path]:
    """A forest plot: every contrast with its 95% interval, per setting; saturated ones hollow and grey."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    contrasts = results[results["kind"] == "contrast"]
    runs = list(dict.fromkeys(contrasts["run"]))
    palette = plt.get_cmap("tab10")
    colors = {run: palette(i % 10) for i, run in enumerate(runs)}
    groups = [(key, group) for key, group in contrasts.groupby(["task", "scenario", "variants", "paraphrases"], sort=False)]
    sizes = [len(group) for _, group in groups]
    height = sum(0.24 * s + 0.6 for s in sizes) + 1.2
    fig, axes = plt.subplots(
        len(groups), 1, figsize=(10, height), sharex=True, squeeze=False, height_ratios=[s + 2.5 for s in sizes], layout="constrained"
    )
    for ax, ((task, scenario, variants, paraphrases), group) in zip(axes[:, 0], groups):
        # contrast-major, so the models of one contrast sit next to each other
        order = {name: i for i, name in enumerate(dict.fromkeys(group["name"]))}
        group = group.assign(_c=group["name"].map(order), _r=group["run"].map({r: i for i, r in enumerate(runs)}))
        group = group.sort_values(["_c", "_r", "paraphrase"], kind="stable")
        labels = []
        for y, (_, row) in enumerate(group.iterrows()):
            per_paraphrase = bool(row["paraphrase"])
            label = f"{row['name']} [{row['paraphrase']}]" if per_paraphrase else row["name"]
            labels.append(f"{label}  ·  {row['run']}")
            if _nan(row["value"]):
                ax.text(0, y, "n/a", va="center", ha="left", fontsize=7, color="grey")
                continue
            saturated = row["saturated"] == 1.0
            color = "#9e9e9e" if saturated else colors[row["run"]]
            value, low, high = (100 * row[k] for k in ("value", "ci_low", "ci_high"))
            if not (_nan(low) or _nan(high)):
                ax.plot([low, high], [y, y], color=color, linewidth=1.0 if per_paraphrase else 1.6, solid_capstyle="butt")
            ax.plot(
                [value], [y], linestyle="none", marker=RATE_MARKERS.get(row["measure"], "D"), markersize=4 if per_paraphrase else 6,
                markerfacecolor="white" if saturated else color, markeredgecolor=color, markeredgewidth=1.2,
            )
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        names = list(group["name"])
        for y in range(1, len(names)):
            if names[y] != names[y - 1]:  # a thin rule between contrasts
                ax.axhline(y - 0.5, color="#e6e6e6", linewidth=0.6)
        ax.axvline(0, color="black", linewidth=0.9)
        ax.axvline(1, color="grey", linewidth=0.7, linestyle=":")
        ax.grid(axis="x", color="#e0e0e0", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_title(_title(task, scenario, variants, paraphrases), loc="left", fontsize=9, fontweight="bold")
        ax.tick_params(axis="y", length=0)
        ax.tick_params(axis="x", labelbottom=True, labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[-1, 0].set_xlabel("contrast (percentage points), with 95% interval")
    handles = [Line2D([], [], color=colors[r], marker="o", linewidth=1.6, label=r) for r in runs]
    rates = [m for m in RATE_MARKERS if m in set(contrasts["measure"])]
    handles += [Line2D([], [], color="black", marker=RATE_MARKERS[m], linestyle="none", label=f"{m} rate") for m in rates]
    handles += [
        Line2D([], [], color="#9e9e9e", marker="o", markerfacecolor="white", linewidth=1.6, label="saturated (no gap could show)"),
        Line2D([], [], color="grey", linestyle=":", label="the paper's 1-point cut"),
    ]
    fig.legend(handles=handles, loc="outside upper center", ncol=min(4, len(handles)), frameon=False, fontsize=8)
    return _save(fig, out, "contrasts")


def deployment_frame(results: pd.DataFrame) -> pd.DataFrame:
    """``goal_guarding_gap_<deployment>`` rows (pooled, not per paraphrase), with the deployment named."""
    rows = results[
        (results["kind"] == "contrast") & (results["paraphrase"] == "") & results["name"].str.startswith(DEPLOYMENT_PREFIX)
    ]
    return rows.assign(deployment=rows["name"].str[len(DEPLOYMENT_PREFIX) :])


def deployment_heatmap(results: pd.DataFrame, out: Path) -> list[Path]:
    """Models × deployments: ``goal_guarding_gap_<deployment>`` with its value and interval in each cell."""
    plt = _pyplot()
    import numpy as np

    rows = deployment_frame(results)
    several = rows["scenario"].nunique() > 1 or rows["variants"].nunique() > 1 or rows["paraphrases"].nunique() > 1
    rows = rows.assign(
        row_label=[
            f"{r['run']} · {_title(r['task'], r['scenario'], r['variants'], r['paraphrases'])}" if several else r["run"]
            for _, r in rows.iterrows()
        ]
    )
    row_labels = list(dict.fromkeys(rows["row_label"]))
    deployments = list(dict.fromkeys(rows["deployment"]))
    cells = {(r["row_label"], r["deployment"]): r for _, r in rows.iterrows()}
    values = np.array([[100 * cells[(a, d)]["value"] if (a, d) in cells else np.nan for d in deployments] for a in row_labels], dtype=float)
    finite = np.abs(values[np.isfinite(values)])
    limit = 10.0 * math.ceil(max(5.0, float(finite.max()) if finite.size else 0.0) * 1.2 / 10.0)
    longest = max(len(label) for label in row_labels)
    fig, ax = plt.subplots(
        figsize=(min(18.0, 1.1 * len(deployments) + 0.07 * longest + 2.0), 0.55 * len(row_labels) + 2.2), layout="constrained"
    )
    image = ax.imshow(np.ma.masked_invalid(values), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    for i, label in enumerate(row_labels):
        for j, deployment in enumerate(deployments):
            row = cells.get((label, deployment))
            if row is None:
                continue
            value = values[i, j]
            dark = np.isfinite(value) and abs(value) > 0.6 * limit
            text = fmt_pct(row["value"]) + ("\nsaturated" if row["saturated"] == 1.0 else "")
            text += "\n" + fmt_ci(row["ci_low"], row["ci_high"])
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
    ax.set_xticks(range(len(deployments)), [d.replace("_", " ") for d in deployments], rotation=30, ha="right")
    ax.set_yticks(range(len(row_labels)), row_labels)
    ax.set_title("goal_guarding_gap_<deployment>: compliance, rating and training − only rating", loc="left", fontsize=9, fontweight="bold")
    fig.colorbar(image, ax=ax, label="gap (percentage points)", shrink=0.9)
    return _save(fig, out, "deployment_heatmap")


# --------------------------------------------------------------------------------------------- page

PAGE_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 2em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; white-space: nowrap; }
th { background: #f2f2f2; }
tbody tr:nth-child(even) { background: #fafafa; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
.note, figcaption { color: #555; font-size: 0.9em; }
.scroll { overflow-x: auto; }
"""

CAPTIONS = {
    "categories": "Share of samples in each category per model and condition (Sheshadri et al. 2025, Fig. 1 style); "
    "hatched segments show alignment-faking reasoning.",
    "contrasts": "Every contrast with its 95% interval; hollow grey points are saturated cells where no gap could show; "
    "the dotted line is the paper's 1-point cut.",
    "deployment_heatmap": "goal_guarding_gap per deployment (rating and training − only rating), "
    "with the 95% interval in each cell.",
}


def html_page(tables: Sequence[pd.DataFrame], figures: dict[str, Path], runs: Sequence[Run], skipped: Sequence[Skipped]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Alignment-faking results</title>',
        f"<style>{PAGE_STYLE}</style></head><body>",
        "<h1>Alignment-faking results</h1>",
        f'<p class="note">{html.escape(_logs_line(runs, skipped))}</p>',
    ]
    for name, svg in figures.items():
        data = base64.b64encode(svg.read_bytes()).decode("ascii")
        parts.append(
            f'<figure id="{name}"><img alt="{html.escape(name)}" src="data:image/svg+xml;base64,{data}">'
            f"<figcaption>{html.escape(CAPTIONS[name])}</figcaption></figure>"
        )
    for (title, note), table in zip(SECTIONS, tables):
        parts += [f"<h2>{html.escape(title)}</h2>", f'<p class="note">{html.escape(note)}</p>', f'<div class="scroll">{to_html_table(table)}</div>']
    parts.append("</body></html>")
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------- entry


def build_report(logdir: str | Path, out: str | Path) -> dict[str, Any]:
    """Read the logs under ``logdir`` and write the report into ``out``; returns what was written."""
    runs, skipped = read_runs(logdir)
    if not runs:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped)
        raise ReportError(f"no log in {logdir} has alignment-faking results ({reasons})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:  # no stale figure from an earlier report in the same folder
        for suffix in (".png", ".svg"):
            (out / f"{name}{suffix}").unlink(missing_ok=True)

    results = results_frame(runs)
    tokens = tokens_frame(runs)
    results[COLUMNS].to_csv(out / "results.csv", index=False)
    tokens.to_csv(out / "tokens.csv", index=False)
    tables = [condition_table(results), contrast_table(results), token_table(tokens)]
    (out / "table.md").write_text(markdown_report(tables, runs, skipped), encoding="utf-8")

    written = [out / "results.csv", out / "tokens.csv", out / "table.md"]
    svgs: dict[str, Path] = {}
    if (results["measure"].str.startswith("cat_")).any():
        written += categories_figure(results, out)
        svgs["categories"] = out / "categories.svg"
    if (results["kind"] == "contrast").any():
        written += contrasts_figure(results, out)
        svgs["contrasts"] = out / "contrasts.svg"
    if not deployment_frame(results).empty:
        written += deployment_heatmap(results, out)
        svgs["deployment_heatmap"] = out / "deployment_heatmap.svg"
    (out / "index.html").write_text(html_page(tables, svgs, runs, skipped), encoding="utf-8")
    written.append(out / "index.html")
    return {"runs": runs, "skipped": skipped, "written": written, "results": results, "tokens": tokens}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logdir", help="a folder of eval logs (one run or an eval-set), or one eval log")
    parser.add_argument("--out", default="report", help="folder to write the report into (default: ./report)")
    args = parser.parse_args(argv)
    try:
        report = build_report(args.logdir, args.out)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for skipped in report["skipped"]:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    print(f"read {len(report['runs'])} log(s) from {args.logdir}; wrote:")
    for path in report["written"]:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
