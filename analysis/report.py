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
- figures, each as SVG and PDF (vector) and PNG (300 dpi) (``--formats svg`` writes SVG alone, the fastest), sized
  for a page (6.5 in wide, at most 4 in tall; a longer one is split into parts ``_1``, ``_2``…), contrasts
  labelled by what they measure (the scenario file's ``label``):
  ``categories_<section>`` (Sheshadri et al. 2025 Fig. 1 style: models as rows, conditions side by side, each bar
  split into the six categories plus ``invalid`` and ``ungraded``, AF reasoning hatched),
  ``contrasts_<section>`` (each contrast per model with its interval; hollow where the interval spans 0),
  ``grid_<section>`` (pre-deployment: the compliance rate for each process × deployment, a panel per model)
  and ``gaps_<section>`` (pre-deployment: each process contrast per deployment, hatched where the interval
  spans 0).

The report is four modules: ``report_reading`` (the logs and their results objects), ``report_tables`` (the tidy
frame, the formatted tables, the sections in the battery's order with ``gap`` first), ``report_figures`` and this
one (the page, the markdown and the command). The page opens with a model × task table of each run's main
contrast; each table shows, where some responses were ungraded or invalid, the bounds a rate or contrast would
take had they all gone one way or the other, flagged where a contrast's conclusion could change.

Condition labels come from the scenario's facts recorded in each log ("free (trained)", "pro (rated only)",
"enterprise (unmonitored)"). Logs that did not finish or hold no alignment-faking metrics are listed as skipped.
"""

from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from alignment_faking.analysis.report_figures import CAPTIONS, FORMATS, figure_html, figure_kind, section_figures
from alignment_faking.analysis.report_reading import ReportError, Run, Skipped, condition_label, read_runs
from alignment_faking.analysis.report_settings import settings_part
from alignment_faking.analysis.report_tables import (
    COLUMNS,
    CONTRAST_FIELDS,
    NOTES,
    Section,
    _shared_line,
    auxiliary_table,
    condition_table,
    contrast_table,
    fmt_int,
    fmt_pct,
    fmt_pp,
    fmt_rate,
    headline_table,
    results_frame,
    run_card,
    sections,
    split_card,
    to_html_table,
    to_markdown,
    token_table,
    tokens_frame,
    cost_frame,
    cost_table,
)

__all__ = [
    "COLUMNS", "CONTRAST_FIELDS", "ReportError", "Run", "Skipped", "auxiliary_table", "build_report", "condition_label", "fmt_int",
    "fmt_pct", "fmt_pp", "fmt_rate", "main", "read_runs", "results_frame", "sections",
]

HEADLINE_NOTE = (
    "A row per task and setting (the battery's order), a column per model: the main contrast in percentage points "
    "with its 95% interval (* where significant: the interval excludes 0); not measured: more than half of its "
    "responses were invalid or ungraded; metric: the contrast's key in the log and results.csv."
)


def markdown_report(
    runs: Sequence[Run], skipped: Sequence[Skipped], parts: Sequence[Section], card: pd.DataFrame, tokens: pd.DataFrame,
    more: Sequence[dict[str, str]] = (),
) -> str:
    shared, varying = split_card(card)
    lines = ["# Alignment-faking results", "", _logs_line(runs, skipped), "", "## Main contrasts", "", HEADLINE_NOTE, "", to_markdown(headline_table(parts, more)), ""]
    lines += ["## Run card", "", NOTES["card"], ""]
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


def _figure_html(name: str, paths: list[Path]) -> str:
    return figure_html(name, paths, CAPTIONS[figure_kind(name)])


def html_page(
    runs: Sequence[Run], skipped: Sequence[Skipped], parts: Sequence[Section], figures: dict[str, dict[str, list[Path]]],
    card: pd.DataFrame, tokens: pd.DataFrame, more: Sequence[dict[str, str]] = (),
) -> str:
    """The HTML page; ``more``: the newer settings' rows of the main-contrasts table."""
    toc = ['<li><a href="#main-contrasts">Main contrasts</a></li>', '<li><a href="#run-card">Run card</a></li>']
    toc += [f'<li><a href="#{html.escape(p.slug)}">{html.escape(p.title)}</a></li>' for p in parts]
    toc += ['<li><a href="#tokens">Tokens</a></li>', '<li><a href="#cost">Cost</a></li>']
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Alignment-faking results</title>',
        f"<style>{PAGE_STYLE}</style></head><body>",
        "<h1>Alignment-faking results</h1>",
        f'<p class="note">{html.escape(_logs_summary(runs, skipped))}</p>',
        f"<nav><ol>{''.join(toc)}</ol></nav>",
        '<h2 id="main-contrasts">Main contrasts</h2>',
        f'<p class="note">{html.escape(HEADLINE_NOTE)}</p>',
        to_html_table(headline_table(parts, more), numeric_from=99),
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
        for name, paths in figures.get(part.slug, {}).items():
            body.append(_figure_html(name, paths))
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


def parse_formats(text: str) -> tuple[str, ...]:
    """``svg,png`` -> the figure formats to write; a clear error naming the valid ones otherwise."""
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ReportError(f"--formats: unknown figure format(s) {', '.join(unknown) or '(none given)'}; valid: {', '.join(FORMATS)} (comma-separated)")
    return formats


def build_report(logdir: str | Path, out: str | Path, formats: Sequence[str] = FORMATS) -> dict[str, Any]:
    """Read the logs under ``logdir`` and write the report into ``out`` (figures in ``formats``); returns what was
    written."""
    runs, skipped = read_runs(logdir)
    # --- the newer settings (analysis/report_settings.py): their own sections, figures and tables
    newer = settings_part(logdir, out, formats)
    skipped = newer.not_skipped(skipped)
    if not runs and newer.paths:
        return newer.write_alone(Path(out), skipped)
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
    (out / "table.md").write_text(markdown_report(runs, skipped, parts, card, tokens, newer.headline) + newer.markdown, encoding="utf-8")
    written = [out / "results.csv", out / "tokens.csv", out / "run_card.csv", out / "table.md"]
    figures = {part.slug: section_figures(part, out, formats) for part in parts}
    written += [path for per_part in figures.values() for paths in per_part.values() for path in paths]
    (out / "index.html").write_text(newer.insert(html_page(runs, skipped, parts, figures, card, tokens, newer.headline)), encoding="utf-8")
    written.append(out / "index.html")
    written += newer.written  # the newer settings' figures
    return {"runs": runs, "skipped": skipped, "written": written, "results": results, "tokens": tokens, "sections": parts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logdir", help="a folder of eval logs (one run, an eval-set, a sweep), or one eval log")
    parser.add_argument("--out", default="reports/report", help="folder to write the report into (default: reports/report)")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help=f"figure formats to write, comma-separated (default: {','.join(FORMATS)}; svg alone is the fastest, and the page embeds it)")
    args = parser.parse_args(argv)
    try:
        report = build_report(args.logdir, args.out, parse_formats(args.formats))
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
