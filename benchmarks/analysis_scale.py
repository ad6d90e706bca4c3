"""Time and peak memory of the summary and the report on logs of 10,000 and 100,000 samples.

    python benchmarks/analysis_scale.py                       # 10k and 100k samples
    python benchmarks/analysis_scale.py --sizes 10000 --json scale.json

A synthetic log of N samples is written once per size: a real gap run on the organism (the samples' scores,
metadata and results as the suite writes them), its samples copied to N with fresh ids (messages and events
dropped to keep the file small to write; the summary and the report never read them). Each command then runs
in a fresh Python process, measured by wall time and the process's peak resident memory (``ru_maxrss``):

- ``summary`` and ``report`` as shipped (header only);
- ``full read``: ``read_eval_log(path)`` of the whole log, what the summary did before (only at sizes up to
  ``--full-max``; its memory grows with the samples).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

MEASURE = """
import resource, sys, time
start = time.perf_counter()
{body}
wall = time.perf_counter() - start
print(wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
BODIES = {
    "summary": "from alignment_faking.analysis.summary import main\nimport contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()):\n    main([sys.argv[1]])",
    "report": "from alignment_faking.analysis.report import main\nimport contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()):\n    main([sys.argv[1], '--out', sys.argv[2]])",
    "full read": "from inspect_ai.log import read_eval_log\nlog = read_eval_log(sys.argv[1])\nassert len(log.samples) > 0",
}


def synthetic_log(size: int, folder: Path) -> Path:
    """A gap log with ``size`` samples (a real organism run, its samples copied with fresh ids)."""
    from inspect_ai import eval as inspect_eval
    from inspect_ai.log import write_eval_log

    from alignment_faking.tasks.gap import gap

    [log] = inspect_eval(
        gap(dataset="builtin", queries=50, af_votes=2), model="organism/faker", model_roles={"grader": "organism/grader"},
        log_dir=str(folder / "seed"), display="none",
    )
    seeds = [s.model_copy(update={"messages": [], "events": [], "attachments": {}}) for s in log.samples or []]
    samples = []
    for index in range(size):
        seed = seeds[index % len(seeds)]
        samples.append(seed.model_copy(update={"id": f"{seed.id}__{index // len(seeds)}"}))
    log.samples = samples
    if log.results:
        log.results.total_samples = log.results.completed_samples = size
    path = folder / f"gap_{size}.eval"
    write_eval_log(log, str(path))
    return path


def measure(command: str, log: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one command in a fresh Python process."""
    code = MEASURE.format(body=BODIES[command])
    done = subprocess.run([sys.executable, "-c", code, str(log), str(out)], capture_output=True, text=True, cwd=REPO, check=True)
    wall, rss_kb = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(rss_kb) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated sample counts")
    parser.add_argument("--full-max", type=int, default=10000, help="largest size at which to time a full read")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size in sizes:
            started = time.perf_counter()
            log = synthetic_log(size, folder)
            built = time.perf_counter() - started
            print(f"{size:,} samples: log of {log.stat().st_size / 2**20:.1f} MB written in {built:.0f} s", flush=True)
            for command in BODIES:
                if command == "full read" and size > args.full_max:
                    continue
                wall, peak = measure(command, log, folder / f"report_{size}")
                rows.append({"samples": size, "command": command, "seconds": round(wall, 2), "peak_mb": round(peak)})
                print(f"  {command:<10} {wall:7.2f} s  {peak:7.0f} MB peak", flush=True)
    print("\n| samples | command | wall (s) | peak memory (MB) |\n|---:|---|---:|---:|")
    for row in rows:
        print(f"| {row['samples']:,} | {row['command']} | {row['seconds']:.2f} | {row['peak_mb']:,} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
