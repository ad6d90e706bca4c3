"""The report's tables: the tidy results frame built from each run's results object (one row per log ×
condition or contrast × measure, with its metric name so each number traces back to the log), the token,
cost and run-card frames, the sections (a task and setting each, in the battery's order, ``gap`` first), the
formatted tables (conditions, contrasts, a model × task headline table) and their markdown and HTML forms."""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from alignment_faking.analysis.headers import battery_order, order_key
from alignment_faking.analysis.report_reading import NAN, Run, condition_label
from alignment_faking.scorers import metric_names as names
from alignment_faking.scorers.motives import AUXILIARY_PREFIXES
from alignment_faking.scorers.results import SENSITIVITY_KINDS, ContrastResult, Sensitivity

CONTRAST_FIELDS = {
    "ci_low": names.ci_low,
    "ci_high": names.ci_high,
    "p": names.p_value,
    "n": names.n_queries,
    "above_cut": names.above_cut,
    "underpowered": names.underpowered,
}
"""Each field of a contrast's row -> its metric name (``scorers/metric_names.py``), for the ``metric`` trace."""
CONTRAST_ATTRIBUTES = {"ci_low": "ci_low", "ci_high": "ci_high", "p": "p_value", "n": "n_queries", "above_cut": "above_cut", "underpowered": "underpowered"}
"""Each field of a contrast's row -> the attribute of ``scorers.results.ContrastResult`` it is read from."""
SENSITIVITY_COLUMNS = [f"{kind}_{side}" for kind in SENSITIVITY_KINDS for side in ("low", "high")] + ["conclusion_could_change"]

COLUMNS = [
    "model", "task", "scenario", "variants", "paraphrases", "kind", "name", "label", "definition", "measure", "paraphrase",
    "minuend", "subtrahend", "value", "ci_low", "ci_high", "p", "n", "above_cut", "underpowered", *SENSITIVITY_COLUMNS, "metric", "status", "log",
]
"""Columns of ``results.csv``. ``kind`` is ``condition``, ``contrast`` or ``metric`` (any other number of the log); ``name`` the condition or contrast and
``label`` what it means (a contrast's from its scenario file); ``measure`` the rate (or count, or ``cat_<category>``); ``paraphrase`` is set for the
per-paraphrase rows of a paraphrase ensemble; ``definition`` (contrasts) the rate and the conditions it compares; ``n`` is the condition's samples or the contrast's queries;
``above_cut`` and ``underpowered`` are the contrast's flags; ``ungraded_low``/``ungraded_high`` and
``invalid_low``/``invalid_high`` the value had every ungraded (invalid) response gone one way or the other, and
``conclusion_could_change`` (contrasts) the kinds for which the sign or significance would change; ``metric`` is
the key of ``value`` in the run's results (``scorers/metric_names.py``)."""


# --------------------------------------------------------------------------------------------- frames


def _row(run: Run, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {column: NAN for column in COLUMNS}
    row.update(
        model=run.model, task=run.task, scenario=run.scenario, variants=run.variants, paraphrases=run.paraphrases,
        paraphrase="", minuend="", subtrahend="", status=str(run.log.status), log=run.path, run=run.label,
        conclusion_could_change="", definition="",
    )
    row.update(values)
    return row


def _side(run: Run, side: Any) -> str:
    """A contrast's side as words: a condition's label, or ``(A − B)`` for a difference of gaps."""
    if isinstance(side, (list, tuple)):
        return "(" + " − ".join(condition_label(str(s), run.facts(str(s))) for s in side) + ")"
    return condition_label(str(side), run.facts(str(side))) if side else ""


def _sensitivity(sensitivity: dict[str, Sensitivity] | Any) -> dict[str, Any]:
    """The sensitivity columns of a rate or contrast (NaN where no response of that kind was left out)."""
    out: dict[str, Any] = {}
    for kind, s in sensitivity.items():
        if s.responses:
            out[f"{kind}_low"], out[f"{kind}_high"] = s.low.estimate, s.high.estimate
    changes = [kind for kind, s in sensitivity.items() if s.changes]
    return out | ({"conclusion_could_change": "+".join(changes)} if changes else {})


def _condition_rows(run: Run, condition: str) -> list[dict[str, Any]]:
    c = run.results.conditions[condition]
    common = dict(kind="condition", name=condition, label=condition_label(condition, run.facts(condition)), n=c.n)
    rows = []
    for rate_name, r in c.rates.items():
        metric = names.rate(rate_name, condition)
        rows.append(_row(run, **common, measure=rate_name, value=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, metric=metric, **_sensitivity(r.sensitivity)))
    rows.append(_row(run, **common, measure="invalid", value=c.invalid, metric=names.invalid(condition)))
    rows.append(_row(run, **common, measure="grader_failed", value=c.grader_failed, metric=names.grader_failed(condition)))
    rows.append(_row(run, **common, measure="n", value=c.n, metric=names.responses(condition)))
    rows += [_row(run, **common, measure=f"cat_{category}", value=share, metric=names.share(category, condition)) for category, share in c.shares.items()]
    return rows


def _contrast_rows(run: Run, spec: dict[str, Any]) -> list[dict[str, Any]]:
    k: ContrastResult = run.results.contrasts[spec["name"]]
    minuend, subtrahend = spec.get("minuend", k.minuend) or "", spec.get("subtrahend", k.subtrahend) or ""
    common = dict(
        kind="contrast", name=k.name, measure=k.rate,
        minuend="+".join(minuend) if isinstance(minuend, list) else minuend,
        subtrahend="+".join(subtrahend) if isinstance(subtrahend, list) else subtrahend,
        label=contrast_label(spec),
        definition=f"{k.rate}: {_side(run, minuend)} − {_side(run, subtrahend)}" if minuend else "",
    )
    fields = {column: getattr(k, attribute) for column, attribute in CONTRAST_ATTRIBUTES.items()}
    rows = [_row(run, **common, value=k.estimate, metric=k.name, **fields, **_sensitivity(k.sensitivity))]
    for paraphrase, e in k.paraphrases.items():
        rows.append(_row(run, **common, paraphrase=paraphrase, value=e.estimate, ci_low=e.ci_low, ci_high=e.ci_high, metric=names.paraphrase(k.name, paraphrase)))
    return rows


def contrast_label(spec: dict[str, Any]) -> str:
    """A contrast's label for people: its scenario file's ``label`` (recorded in the log), else its name in words
    (a log from before labels)."""
    return str(spec.get("label") or str(spec["name"]).replace("_", " "))


def run_rows(run: Run) -> list[dict[str, Any]]:
    """The tidy rows of one run: each condition's measures, then each contrast (and its per-paraphrase values),
    then every other number of the run (counts, flags, adjusted p-values…) so the CSV holds all of them."""
    rows = [row for condition in run.conditions() for row in _condition_rows(run, condition)]
    contrasts = run.contrasts()
    rows += [row for spec in contrasts for row in _contrast_rows(run, spec)]
    used = {row["metric"] for row in rows}
    used |= {bound(row["metric"]) for row in rows for bound in (names.ci_low, names.ci_high)}
    used |= {key(c["name"]) for c in contrasts for key in CONTRAST_FIELDS.values()}
    others = {**run.results.flat, **run.auxiliary}
    rows += [_row(run, kind="metric", name=key, label=key, measure="", value=value, metric=key) for key, value in others.items() if key not in used]
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
    from alignment_faking.analysis.cost import run_cost  # the price table's module builds tasks: loaded only here
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
    """What produced each log: model, task, grader, dataset, n, votes, temperature, epochs, versions, prompt set,
    scratchpad, prompt changes, rubric set."""
    rows = []
    for run in runs:
        args = dict(run.log.eval.task_args or {})
        meta = run.metadata
        changes = [f"variant {run.variants}"] if run.variants else []
        changes += [f"paraphrases {run.paraphrases}"] if run.paraphrases else []
        changes += [f"prefill {meta['prefill']}"] if meta.get("prefill") else []
        changes += [f"{k} {Path(str(args[k])).name}" for k in ("system_template", "user_template") if args.get(k)]
        changes += [f"lab {args['lab']}"] if args.get("lab") else []
        changes += [f"prompt axis {', '.join(str(a['label']) for a in meta['prompt_axis'])}"] if meta.get("prompt_axis") else []
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
                "prompt set": str(meta.get("prompt_set", "ours")),
                "scratchpad": "yes" if meta.get("cot", True) else "no",
                "prompt changes": "; ".join(changes) or "none",
                "rubric set": str(meta.get("rubric_set", "ours")),
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
    """A section per task and setting, in the battery's order (``gap`` first)."""
    out: list[Section] = []
    order = battery_order()
    settings = sorted(dict.fromkeys(run.setting for run in runs), key=lambda s: (order_key(s[0], order), s))
    for key in settings:
        members = [run for run in runs if run.setting == key]
        task, scenario, variants, paraphrases = key
        title = task if scenario in ("", task) else f"{task} (scenario {scenario})"
        setting = setting_text(variants, paraphrases)
        title += "" if setting == "—" else f" · {setting}"
        shared = sum(1 for other in settings if other[0] == task) > 1
        parts = [task, scenario, variants, paraphrases] if shared else [task]
        slug = re.sub(r"[^a-z0-9]+", "_", "_".join(p for p in parts if p).lower()).strip("_")
        rows = results[results["log"].isin([r.path for r in members])]
        out.append(Section(key, title, slug, members, rows))
    return out


def _bounds(row: Any) -> str:
    """The sensitivity of a rate or contrast row in words: ``ungraded [50.0, 60.0]; invalid [..]``."""
    parts = []
    for kind in SENSITIVITY_KINDS:
        low, high = row.get(f"{kind}_low", NAN), row.get(f"{kind}_high", NAN)
        if not (_nan(low) or _nan(high)):
            parts.append(f"{kind} [{100 * float(low):.1f}, {100 * float(high):.1f}]")
    if row.get("conclusion_could_change"):
        parts.append(f"conclusion could change ({row['conclusion_could_change']})")
    return "; ".join(parts)


def condition_table(results: pd.DataFrame, with_setting: bool = True) -> pd.DataFrame:
    """Model × condition rows: compliance, AF and partial (of compliant responses) with 95% intervals, invalid,
    grader failed, n, and where responses were left out the compliance rate's bounds had they gone either way."""
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
                "partial (of compliant)": fmt_pct(by["partial"]["value"]) if "partial" in by else "n/a",
                "invalid": fmt_int(by["invalid"]["value"]) if "invalid" in by else "n/a",
                "grader failed": fmt_int(by["grader_failed"]["value"]) if "grader_failed" in by else "n/a",
                "n": fmt_int(first["n"]),
                "compliance if left-out responses went either way": _bounds(by["compliance"]) if "compliance" in by else "",
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def contrast_table(results: pd.DataFrame, with_setting: bool = True) -> pd.DataFrame:
    """Every contrast: the difference in points with its 95% interval, p, queries, the flags, and its bounds
    had the ungraded or invalid responses gone either way."""
    contrasts = results[results["kind"] == "contrast"]
    rows = []
    for _, row in contrasts.iterrows():
        per_paraphrase = bool(row["paraphrase"])
        out = {"model": row["run"]}
        if with_setting:
            out.update(task=row["task"], scenario=row["scenario"], variants=setting_text(row["variants"], row["paraphrases"]))
        out.update(
            {
                "contrast": f"{row['label']} [{row['paraphrase']}]" if per_paraphrase else row["label"],
                "definition": row["definition"],
                "difference [95% CI]": fmt_pp(row["value"], row["ci_low"], row["ci_high"]),
                "p": "—" if per_paraphrase else fmt_p(row["p"]),
                "queries": "—" if per_paraphrase else fmt_int(row["n"]),
                "above the 1-point cut": "—" if per_paraphrase else fmt_flag(row["above_cut"]),
                "underpowered": "—" if per_paraphrase else fmt_flag(row["underpowered"], yes="underpowered", no=""),
                "if left-out responses went either way": "—" if per_paraphrase else _bounds(row),
                "metric": row["metric"],
            }
        )
        rows.append(out)
    return pd.DataFrame(rows)


def main_cell(run: Run) -> str:
    """A run's main contrast in points with its 95% interval, ``*`` where significant; ``not measured`` where
    most responses were invalid or ungraded."""
    k = run.results.contrast()
    if not run.results.coverage.measured:
        return "not measured"
    if k is None or _nan(k.estimate):
        return "n/a"
    return f"{100 * k.estimate:+.1f} [{100 * k.ci_low:+.1f}, {100 * k.ci_high:+.1f}]" + ("*" if k.significant == 1 else "")


def headline_table(parts: Sequence[Section], more: Sequence[dict[str, str]] = ()) -> pd.DataFrame:
    """Scenarios × models: a row per section (the battery's order, ``gap`` first) with its main contrast's label,
    a column per model with that run's main contrast (``main_cell``), and the contrast's metric name; then the
    rows of ``more`` (the newer settings', ``report_settings.SettingsPart.headline``)."""
    models = list(dict.fromkeys(_short(run.label or run.model) for part in parts for run in part.runs))
    models += [m for m in dict.fromkeys(k for row in more for k in row) if m not in (*models, "scenario", "main contrast", "metric")]
    rows = []
    for part in parts:
        main = [(run, run.results.contrast()) for run in part.runs]
        named = next((k.name for _, k in main if k is not None), "")
        spec = next((c for run, _ in main for c in run.contrasts() if c["name"] == named), None)
        row = {"scenario": part.title, "main contrast": contrast_label(spec) if spec else "—"}
        for run, _ in main:
            model = _short(run.label or run.model)
            row[model] = main_cell(run) if model not in row else f"{row[model]}; {main_cell(run)}"
        rows.append(row | {"metric": named})
    rows += more
    return pd.DataFrame([{c: row.get(c, "") for c in ["scenario", "main contrast", *models, "metric"]} for row in rows])


def _short(model: str) -> str:
    """``anthropic/claude-3-opus-20240229`` -> ``claude-3-opus-20240229`` (the provider is in the run card)."""
    return model.split("/", 1)[1] if "/" in model and not model.startswith("organism/") else model


def auxiliary_table(part: Section) -> pd.DataFrame:
    """The optional scorers' shares per condition (why the model decided, the AF motive, follow-up answers):
    a row per model and share, a column per condition."""
    rows = []
    for run in part.runs:
        conditions = sorted(run.conditions(), key=len, reverse=True)  # the longest matching suffix names it
        for key, value in run.auxiliary.items():
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
    "(temperature of the model under test); samples: completed / total; prompt set: whose prompt wording ran (ours or "
    "a published set); scratchpad: whether the model reasoned first; prompt changes: the variants, paraphrases, prefill, "
    "templates, lab name or prompt axis applied to it; rubric set: whose grader rubrics graded it.",
    "conditions": "Share of graded responses that complied, showed alignment-faking (AF) reasoning, or complied partially, "
    "with 95% intervals where the log records them; invalid: responses still invalid after re-sampling; grader failed: "
    "responses with a verdict the grader could not give (left out of that rate, never counted as 0 or 1); n: samples. "
    "Partial: share of the compliant responses with a partial verdict (n/a where none has one, e.g. without a "
    "scratchpad). Last column: the compliance rate had every ungraded (invalid) response gone one way or the other.",
    "contrasts": "Differences of a rate between conditions, in percentage points, with 95% intervals and p (paired by "
    "query); above the 1-point cut: the paper's criterion; underpowered: a null that says little at this n. Rows marked "
    "[pN] are one paraphrase of an ensemble. Last column: the difference had every ungraded (invalid) response gone "
    "one way or the other (the minuend's all 1 and the subtrahend's all 0, and the reverse), and whether that could "
    "change the conclusion (its sign or significance).",
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


