"""Time and peak memory of the summary and the report on logs of 10,000 and 100,000 samples.

    python benchmarks/analysis_scale.py                       # 10k and 100k samples
    python benchmarks/analysis_scale.py --sizes 10000 --json scale.json

A synthetic log of N samples is written once per size: a real gap run on the organism (the samples' scores,
metadata and results as the suite writes them), its samples copied to N with fresh ids (messages and events
dropped to keep the file quick to write; the summary and the report never read them) into an .eval archive
with Inspect's own entries and compression. Each command then runs
in a fresh Python process, measured by the wall time of the call (after its imports) and the process's peak
high-water resident memory (``VmHWM``, Linux) before and after the call:

- ``summary`` and ``report`` as shipped (the header and the per-sample reduced scores, not the transcripts);
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
import contextlib, io, sys, time
def peak_mb():  # this process's high-water resident memory (VmHWM starts afresh at exec; ru_maxrss does not)
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
{setup}
before = peak_mb()
start = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    {call}
wall = time.perf_counter() - start
print(wall, before, peak_mb())
"""
COMMANDS = {  # name -> (imports, the call timed)
    "summary": ("from alignment_faking.analysis.summary import main", "main([sys.argv[1]])"),
    "report": ("from alignment_faking.analysis.report import main", "main([sys.argv[1], '--out', sys.argv[2]])"),
    "full read": ("from inspect_ai.log import read_eval_log", "assert len(read_eval_log(sys.argv[1]).samples) > 0"),
}
"""The timed call runs after its imports (Python and Inspect start up in a few seconds whatever the log)."""


def seed_log(folder: Path) -> Path:
    """A real gap run on the organism: 100 samples, two AF votes each."""
    from inspect_ai import eval as inspect_eval

    from alignment_faking.tasks.gap import gap

    [log] = inspect_eval(
        gap(dataset="builtin", queries=50, af_votes=2), model="organism/faker", model_roles={"grader": "organism/grader"},
        log_dir=str(folder / "seed"), display="none",
    )
    return Path(log.location.removeprefix("file://"))


def synthetic_log(seed: Path, size: int, folder: Path) -> Path:
    """The seed log with its samples copied to ``size`` (fresh ids; messages and events dropped), written entry
    by entry into an .eval archive as Inspect writes one (same entries, same compression)."""
    import uuid
    import zipfile

    from inspect_ai._util.zipfile import zipfile_compress_kwargs  # the archive settings Inspect writes .eval files with

    with zipfile.ZipFile(seed) as source:
        names = source.namelist()
        entries = {name: json.loads(source.read(name)) for name in names if not name.startswith("samples/")}
        samples = [json.loads(source.read(name)) for name in names if name.startswith("samples/")]
    summaries = {(s["id"], s["epoch"]): s for s in entries["summaries.json"]}
    path = folder / f"gap_{size}.eval"
    new_summaries, reduced = [], []
    with zipfile.ZipFile(path, "w", **zipfile_compress_kwargs) as target:
        target.writestr("_journal/start.json", json.dumps(entries["_journal/start.json"]))
        for index in range(size):
            seed_sample = samples[index % len(samples)]
            sample_id = f"{seed_sample['id']}__{index // len(samples)}"
            sample = {**seed_sample, "id": sample_id, "uuid": uuid.uuid4().hex, "messages": [], "events": [], "attachments": {}, "events_data": None}
            target.writestr(f"samples/{sample_id}_epoch_{sample['epoch']}.json", json.dumps(sample))
            new_summaries.append({**summaries[(seed_sample["id"], seed_sample["epoch"])], "id": sample_id, "uuid": sample["uuid"]})
        for reduction in entries["reductions.json"]:
            by_id = {r["sample_id"]: r for r in reduction["samples"]}
            reduced.append({**reduction, "samples": [copy_reduced(by_id[s["id"].rsplit("__", 1)[0]], s["id"]) for s in new_summaries if s["id"].rsplit("__", 1)[0] in by_id]})
        header = entries["header.json"]
        header["results"]["total_samples"] = header["results"]["completed_samples"] = size
        target.writestr("_journal/summaries/1.json", json.dumps(new_summaries))
        target.writestr("summaries.json", json.dumps(new_summaries))
        target.writestr("reductions.json", json.dumps(reduced))
        target.writestr("header.json", json.dumps(header))
    return path


def copy_reduced(score: dict, sample_id: str) -> dict:
    """A copy of a seed sample's reduced score for a new sample: its own id and, in its metadata, its own query
    (so the copies are distinct queries for the statistics, as in a real run of that size)."""
    copy = sample_id.rsplit("__", 1)[1]
    metadata = dict(score.get("metadata") or {})
    if "query_id" in metadata:
        metadata["query_id"] = f"{metadata['query_id']}__{copy}"
    return {**score, "sample_id": sample_id, "metadata": metadata}


def measure(command: str, log: Path, out: Path) -> tuple[float, float, float]:
    """Wall seconds of the call, and the process's peak resident MB before and after it, in a fresh process."""
    setup, call = COMMANDS[command]
    code = MEASURE.format(setup=setup, call=call)
    done = subprocess.run([sys.executable, "-c", code, str(log), str(out)], capture_output=True, text=True, cwd=REPO, check=True)
    wall, before, after = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(before), float(after)


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
        seed = seed_log(folder)
        for size in sizes:
            started = time.perf_counter()
            log = synthetic_log(seed, size, folder)
            built = time.perf_counter() - started
            print(f"{size:,} samples: log of {log.stat().st_size / 2**20:.1f} MB written in {built:.0f} s", flush=True)
            for command in COMMANDS:
                if command == "full read" and size > args.full_max:
                    continue
                wall, before, peak = measure(command, log, folder / f"report_{size}")
                rows.append({"samples": size, "command": command, "seconds": round(wall, 2), "peak_mb": round(peak), "added_mb": round(peak - before)})
                print(f"  {command:<10} {wall:7.2f} s  {peak:7.0f} MB peak ({peak - before:+.0f} MB over the imports)", flush=True)
    print("\n| samples | command | wall (s) | peak memory (MB) | of which the call (MB) |\n|---:|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['samples']:,} | {row['command']} | {row['seconds']:.2f} | {row['peak_mb']:,} | {row['added_mb']:,} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
