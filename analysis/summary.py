"""Print the headline numbers of eval logs: rates per condition and each contrast with its interval.

    python -m alignment_faking.analysis.summary logs/            # every log in a folder
    python -m alignment_faking.analysis.summary logs/x.eval      # one log
    python -m alignment_faking.analysis.summary logs/ --latest   # only the newest

Each log's header and its per-sample reduced scores are read (``analysis/headers.py``), never its
transcripts: a log of 100,000 samples takes seconds.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from inspect_ai.log import EvalLog, list_eval_logs

from alignment_faking.analysis.headers import read_header, read_results


def _pct(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:5.1f}%"


def summarise_log(log: EvalLog, metrics: dict[str, float] | None = None) -> str:
    """A few lines a person can read: the model, each condition's rates, each contrast. ``metrics``: the run's
    full results (``headers.read_results``); by default those of the log at ``log.location``."""
    metadata = log.eval.metadata or {}
    header = f"{log.eval.task} | {log.eval.model} | scenario {metadata.get('scenario', '?')} | status {log.status}"
    # what the dataset loader had to say (copies dropped, a response column not replayed, a truncation)
    header += "".join(f"\n  note: dataset {metadata.get('dataset', '?')}: {note}" for note in metadata.get("dataset_notes", []))
    if not log.results or not log.results.scores:
        return header + "\n  (no results: the run did not finish; see `inspect view`)"
    if metrics is None:
        metrics = read_results(log.location, log)
    lines = [header]
    for condition in metadata.get("conditions", []):
        lines.append(
            f"  {condition:<14} compliance {_pct(metrics.get(f'compliance_{condition}', math.nan))}  "
            f"AF {_pct(metrics.get(f'af_{condition}', math.nan))}  "
            f"partial {_pct(metrics.get(f'partial_{condition}', math.nan))}  "
            f"invalid {int(metrics.get(f'invalid_{condition}', 0))}/{int(metrics.get(f'n_{condition}', 0))}"
            + (f"  grader failed {int(failed)}" if (failed := metrics.get(f"grader_failed_{condition}", 0)) else "")
        )
    for contrast in metadata.get("contrasts", []):
        name = contrast["name"]
        if name not in metrics:
            continue
        line = (
            f"  {name} ({contrast['minuend']} - {contrast['subtrahend']}, {contrast['rate']}): "
            f"{_pct(metrics[name])}  95% CI [{_pct(metrics[f'{name}_ci_low'])}, {_pct(metrics[f'{name}_ci_high'])}]  "
            f"p = {metrics[f'{name}_p']:.3g}  queries = {metrics.get(f'{name}_n_queries', metrics.get(f'{name}_n_pairs', math.nan)):.0f}"
            f"{'  (above the paper' + chr(39) + 's 1-point cut, and significant)' if metrics.get(f'{name}_above_cut') == 1 else ''}"
        )
        lines.append(line)
        if metrics.get(f"{name}_underpowered") == 1:
            lines.append(
                f"    note: underpowered, not significant and a gap of the paper's 1-point cut could not have been detected at this n (minimum detectable gap {_pct(metrics.get(f'{name}_mdg', math.nan))} at 80% power); a null here says little."
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="an eval log file or a folder of logs")
    parser.add_argument("--latest", action="store_true", help="only the newest log of the folder")
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
    print("\n\n".join(summarise_log(log) for log in logs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
