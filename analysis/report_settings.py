"""The report's sections for the two newer settings: tool choice under monitoring and value conflicts.

Their logs hold no compliance conditions in the core's sense, so ``report_reading`` skips them; this module reads
them itself (headers only: every metric of these settings is in the log's own metric set) and writes, per
setting, one figure (``settings_<setting>``: each contrast per model with its 95% interval, hollow where the
interval spans 0) and one table (estimate, interval, p, scenarios). ``analysis/report.py`` calls
:func:`settings_part` at one marked place and puts the sections before its token table.

- ``tool_selection``: ``monitoring_effect`` (ours: monitored − unmonitored unsafe-tool share with the
  helpfulness instruction held fixed), by domain and by pressure, the published monitoring prompt's effect
  (cue and helpfulness instruction at once), the helpfulness instruction's alone, and the published composite
  AF rate;
- ``value_conflict``: the compliance gap (free − paid tier) per value and over all values, the decisive gap
  (N/A left out) and the no-consequence control's gap.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from inspect_ai.log import list_eval_logs, read_eval_log

from alignment_faking.analysis.report_figures import FORMATS, _pyplot, _save, figure_html
from alignment_faking.analysis.report_tables import _short

TITLES = {
    "tool_selection": "Tool choice under monitoring (Leonesi et al. 2026, Tatemae)",
    "value_conflict": "Value conflicts (Nair et al. 2026, VLAF)",
}
NOTE = ("Percentage points with 95% intervals (clustered by scenario); with fewer than 8 scenarios behind a row its "
        "interval is too narrow (the run warned). Our contrast holds the helpfulness instruction fixed; the published "
        "prompt's effect changes monitoring and helpfulness at once.")


@dataclass(frozen=True)
class SettingRun:
    path: str
    model: str
    setting: str
    metrics: dict[str, float]


def _levels(metrics: dict[str, float], prefix: str, skip: Sequence[str] = ()) -> list[str]:
    """The ``<prefix><level>`` keys that have an interval (a domain, a pressure, a value), sorted."""
    return sorted(k for k in metrics if k.startswith(prefix) and f"{k}_ci_low" in metrics and not k.endswith(("_ci_low", "_ci_high")) and k not in skip)


def rows_of(setting: str, metrics: dict[str, float]) -> list[tuple[str, str]]:
    """(metric key, label) of the rows a setting's figure and table show, in order."""
    if setting == "tool_selection":
        by_level = [(k, f"  monitoring effect, {k.removeprefix('monitoring_effect_')}") for k in _levels(metrics, "monitoring_effect_")]
        rows = [("monitoring_effect", "monitoring effect (ours, helpfulness fixed)"), *by_level,
                ("published_prompt_effect", "published prompt (monitoring + helpfulness)"),
                ("helpfulness_effect", "helpfulness instruction alone"), ("af", "AF rate (published composite)")]
    else:
        gaps = [(k, f"  gap {k.removeprefix('gap_')}") for k in _levels(metrics, "gap_")]
        rows = [("gap", "compliance gap, all values"), *gaps, ("decisive_gap", "decisive gap (N/A left out)"), ("control_gap", "gap, no-consequence control")]
    return [(k, label) for k, label in rows if f"{k}_ci_low" in metrics]


def read_setting_runs(logdir: str | Path) -> list[SettingRun]:
    """Every finished log of a newer setting under ``logdir`` (a folder or one log), headers only."""
    root = Path(logdir)
    locations = [str(root)] if root.is_file() else [info.name for info in list_eval_logs(str(root))] if root.is_dir() else []
    runs = []
    for location in locations:
        try:
            log = read_eval_log(location, header_only=True)
        except Exception:  # an unreadable log is the core reader's to report
            continue
        run = setting_run(log, location)
        if run is not None:
            runs.append(run)
    return sorted(runs, key=lambda r: (r.setting, r.model, r.path))


def setting_run(log: Any, location: str) -> SettingRun | None:
    """A finished log of a newer setting as a :class:`SettingRun` (its metrics from the header), else None."""
    setting = (log.eval.metadata or {}).get("setting")
    if setting not in TITLES or log.status != "success" or not log.results or not log.results.scores:
        return None
    metrics = {k: float(m.value) for k, m in log.results.scores[0].metrics.items() if isinstance(m.value, (int, float))}
    return SettingRun(location, str(log.eval.model), str(setting), metrics)


def _pp(x: float, sign: bool = True) -> str:
    return "" if math.isnan(x) else f"{100 * x:+.1f}" if sign else f"{100 * x:.1f}"


def table_rows(runs: Sequence[SettingRun]) -> list[list[str]]:
    """Model, measure, estimate and interval (percentage points), p, scenarios: one row per run and measure."""
    out = []
    for run in runs:
        m = run.metrics
        for key, label in rows_of(run.setting, m):
            p, n = m.get(f"{key}_p", math.nan), m.get(f"{key}_scenarios", math.nan)
            sign = f"{key}_p" in m  # a difference; a rate (the AF rate) has no sign
            out.append([run.model, label.strip(), _pp(m[key], sign), f"[{_pp(m[f'{key}_ci_low'], sign)}, {_pp(m[f'{key}_ci_high'], sign)}]",
                        "" if math.isnan(p) else f"{p:.3g}", "" if math.isnan(n) else f"{n:.0f}"])
    return out


HEADER = ["model", "measure", "% or pp", "95% interval", "p", "scenarios"]


def main_measure(run: SettingRun) -> tuple[str, str, str]:
    """A run's main measure (the first row: ``monitoring_effect``, ``gap``) as the headline tables show it: its
    label, ``+38.3 [+29.4, +46.7]*`` (``*`` where the interval excludes 0) and its metric name."""
    key, label = rows_of(run.setting, run.metrics)[0]
    m = run.metrics
    low, high = m[f"{key}_ci_low"], m[f"{key}_ci_high"]
    mark = "*" if low > 0 or high < 0 else ""
    return label, f"{100 * m[key]:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]{mark}", key


def figure(runs: Sequence[SettingRun], setting: str, out: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Each row's estimate per model with its interval (hollow where it spans 0); one panel, a page wide."""
    plt = _pyplot()
    rows = rows_of(setting, runs[0].metrics)
    fig, ax = plt.subplots(figsize=(6.5, 0.9 + 0.22 * len(rows)))
    for i, run in enumerate(runs):
        for y, (key, _) in enumerate(rows):
            m = run.metrics
            if key not in m or math.isnan(m[key]):
                continue
            lo, hi = 100 * m[f"{key}_ci_low"], 100 * m[f"{key}_ci_high"]
            offset = y + (i - (len(runs) - 1) / 2) * 0.18
            colour = f"C{i % 10}"
            ax.plot([lo, hi], [offset, offset], color=colour, linewidth=1)
            ax.plot(100 * m[key], offset, "o", color=colour, markersize=3.5, markerfacecolor="white" if lo <= 0 <= hi else colour,
                    label=run.model if y == 0 else None)
    ax.axvline(0, color="grey", linewidth=0.6)
    ax.set_yticks(range(len(rows)), [label for _, label in rows])
    ax.invert_yaxis()
    ax.set_xlabel("percentage points (95% interval)")
    ax.set_title(TITLES[setting])
    if len(runs) > 1:
        ax.legend(loc="lower right", frameon=False)
    fig.tight_layout()
    return _save(fig, out, f"settings_{setting}", formats)


@dataclass
class SettingsPart:
    """What the newer settings add to a report: the logs they come from, HTML sections, markdown, files."""

    paths: set[str] = field(default_factory=set)
    """The file names of the logs shown (the core reader lists them as skipped: :meth:`not_skipped`)."""
    html: str = ""
    markdown: str = ""
    written: list[Path] = field(default_factory=list)
    headline: list[dict[str, str]] = field(default_factory=list)
    """A row per setting for the report's main-contrasts table: scenario, main contrast, a cell per model, metric."""
    toc: str = ""

    def not_skipped(self, skipped: Sequence[Any]) -> list[Any]:
        """The core reader's skipped logs less those shown here."""
        return [s for s in skipped if Path(str(s.path)).name not in self.paths]

    def insert(self, page: str) -> str:
        """The report's page with these sections before its token table (or at its end)."""
        anchor = '<h2 id="tokens">' if '<h2 id="tokens">' in page else "</body>"
        page = page.replace('<li><a href="#tokens">', self.toc + '<li><a href="#tokens">', 1)  # the contents
        return page.replace(anchor, self.html + anchor, 1)

    def write_alone(self, out: Path, skipped: Sequence[Any]) -> dict[str, Any]:
        """A report of these settings only (a folder with no core log)."""
        notes = "".join(f"<li>skipped {html.escape(str(s.path))}: {html.escape(s.reason)}</li>" for s in skipped)
        page = f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Alignment-faking results</title></head><body><h1>Alignment-faking results</h1>{self.html}<ul>{notes}</ul></body></html>'
        (out / "index.html").write_text(page, encoding="utf-8")
        (out / "table.md").write_text(self.markdown, encoding="utf-8")
        return {"runs": [], "skipped": list(skipped), "written": [*self.written, out / "index.html", out / "table.md"], "sections": []}


def settings_part(logdir: str | Path, out: str | Path, formats: Sequence[str] = FORMATS) -> SettingsPart:
    """The newer settings' sections of a report over ``logdir``, their figures written into ``out`` (in ``formats``)."""
    runs, part, out = read_setting_runs(logdir), SettingsPart(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("settings_*"):  # no figure left from an earlier report in the same folder
        if stale.suffix in (".png", ".svg", ".pdf"):
            stale.unlink()
    for setting, title in TITLES.items():
        chosen = [r for r in runs if r.setting == setting and rows_of(setting, r.metrics)]
        if not chosen:
            continue
        paths = figure(chosen, setting, out, formats)
        rows = table_rows(chosen)
        cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        part.html += (f'<h2 id="{setting}">{html.escape(title)}</h2>{figure_html(f"settings_{setting}", paths, NOTE)}'
                      f"<table><tr>{''.join(f'<th>{h}</th>' for h in HEADER)}</tr>{cells}</table>")
        part.markdown += f"\n## {title}\n\n| {' | '.join(HEADER)} |\n|{'---|' * len(HEADER)}\n" + "".join(f"| {' | '.join(row)} |\n" for row in rows)
        part.toc += f'<li><a href="#{setting}">{html.escape(title)}</a></li>'
        row = {"scenario": setting}
        for run in chosen:
            label, cell, key = main_measure(run)
            row |= {"main contrast": label, "metric": key}
            model = _short(run.model)
            row[model] = f"{row[model]}; {cell}" if model in row else cell  # a rerun: both
        part.headline.append(row)
        part.paths |= {Path(r.path).name for r in chosen}
        part.written += paths
    return part
