"""The calibration table: our prompts against the published ones, filled in from the logs of one folder.

    python -m alignment_faking.analysis.calibration logs/calibration

For every run of a prompt axis in the folder (``-T prompt_axis=published``: ours, hughes2025, greenblatt2024;
or any other axis) one row per prompt variant: each gap of the scenario under that prompt with its 95%
interval, and the effect of the prompt on it (the variant's gap minus the reference's, paired by query). For
every ``classifier_validation`` log in the folder, one row per rubric set: the AF grader's AUROC on the human
labels. Markdown, so it can be pasted into a report as is. Reads the logs' headers and reductions only
(``analysis/headers.py``), never transcripts.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from inspect_ai.log import list_eval_logs

from alignment_faking.analysis.headers import read_header, read_results


def _pct(metrics: dict[str, float], name: str) -> str:
    value = metrics.get(name, math.nan)
    if value is None or math.isnan(value):
        return "n/a"
    low, high = metrics.get(f"{name}_ci_low", math.nan), metrics.get(f"{name}_ci_high", math.nan)
    interval = "" if math.isnan(low) or math.isnan(high) else f" [{100 * low:.1f}, {100 * high:.1f}]"
    return f"{100 * value:.1f}{interval}"


def axis_rows(model: str, metadata: dict[str, Any], metrics: dict[str, float]) -> tuple[list[str], list[list[str]]]:
    """The header and rows of one prompt-axis run: per variant, each gap and the effect of the variant on it."""
    labels = [entry["label"] for entry in metadata.get("prompt_axis") or []]
    names = [contrast["name"] for contrast in metadata.get("contrasts") or []]
    gaps = [name.split("@")[0] for name in names if labels and name.endswith(f"@{labels[0]}")]
    header = ["model", "prompt", *(f"{gap} (points, 95% CI)" for gap in gaps), *(f"effect on {gap}" for gap in gaps)]
    rows = []
    for index, label in enumerate(labels):
        effects = ["(reference)" if index == 0 else _pct(metrics, f"effect_of_{label}_on_{gap}") for gap in gaps]
        rows.append([model, label, *(_pct(metrics, f"{gap}@{label}") for gap in gaps), *effects])
    return header, rows


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def calibration_tables(folder: str) -> str:
    """Every prompt-axis table and the grader rows of the logs in ``folder``, as Markdown."""
    parts: list[str] = []
    graders: list[list[str]] = []
    for info in sorted(list_eval_logs(folder), key=lambda i: i.mtime or 0):
        log = read_header(info.name)
        metadata = log.eval.metadata or {}
        if metadata.get("prompt_axis"):
            header, rows = axis_rows(log.eval.model, metadata, read_results(info.name, log))
            parts.append(f"{log.eval.task} ({metadata.get('scenario')}, {metadata.get('n_queries')} queries):\n\n" + table(header, rows))
        elif log.eval.task.endswith("classifier_validation") and log.results and log.results.scores:
            values = {name: m.value for score in log.results.scores for name, m in score.metrics.items()}
            auroc = values.get("auroc", math.nan)
            graders.append([log.eval.model, str(metadata.get("rubric_set", "ours")), "n/a" if math.isnan(auroc) else f"{auroc:.3f}"])
    if graders:
        parts.append("AF grader on the human labels:\n\n" + table(["grader model", "rubric set", "AUROC"], graders))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alignment_faking.analysis.calibration", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="the log folder of the calibration runs")
    args = parser.parse_args(argv)
    if not Path(args.folder).is_dir():
        print(f"error: {args.folder} is not a folder of eval logs", file=sys.stderr)
        return 2
    text = calibration_tables(args.folder)
    if not text:
        print(f"error: {args.folder} holds no prompt-axis run and no classifier_validation log; run the calibration commands first", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
