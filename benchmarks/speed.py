"""Speed benchmark: the gap task against the loopback server, as a ratio to the ideal wall time.

Two measurements per size N (samples), both with the core task (``tasks/gap.py``, ``-T dataset=builtin``)
run by Inspect against the organism served over HTTP (``alignment_faking.organism.loopback``, started and stopped
here, in a child process so that the server's CPU time is not spent in the measured process):

* **latency run** -- every request waits ``L`` seconds at the server, Inspect may hold ``C`` connections
  per model (``max_connections=C`` for the model under test *and* for the grader role) and runs at most
  ``C`` samples at once (``max_samples=C``). A sample's requests are sequential (the policy's completion,
  then the StrongREJECT, AF-vote and partial-compliance grader requests, one after another), so at most
  ``C`` requests are ever in flight, and each holds its slot for at least ``L``. The ideal wall time is
  therefore

      ideal = R * L / C,   R = requests counted at the server (all models, start-up probes included)

  i.e. N * calls * L / C with calls = R / N, the requests per sample actually made. We report
  ``ratio = wall / ideal`` (1.0 = no overhead at all; the target is <= 1.25).
* **zero-latency run** -- the same with ``L = 0``: the pipeline's own cost (Inspect, the openai client,
  our solvers and scorers, log writing), as samples per second, wall milliseconds per sample and CPU
  milliseconds per request of the measured process.

The ideal is a lower bound; two things keep any real run above it. (1) Fixed costs: Inspect's start-up and
log writing, the provider's one reasoning probe, and the last wave of samples (at N <= C all samples run at
once, and the run lasts at least its longest sample's chain of up to 4 calls), which dominate at N = 100.
(2) The pipeline's CPU: one process, about 12 ms of CPU per request on this machine, so the run can never be
shorter than the zero-latency run; ``cpu-bd = zero-latency wall / ideal`` is that floor as a ratio. The
target (<= 1.25) is reachable only where L / C is well above the CPU per request (latency-bound); with
L / C at or below it (e.g. L = 0.1 s, C = 100: 1 ms per request) the ratio measures the CPU, not waiting.

Samples: N samples are N/2 queries x 2 conditions (free, paid). Up to 200 samples the built-in dataset
(100 queries we wrote) is used as is; beyond that a generated JSONL file cycles the built-in queries and
numbers each copy ("... (copy 2)"), so that every sample is a distinct request with its own (hash-drawn)
organism behaviour, and the metrics see N/2 distinct query pairs (one epoch), as a real 10,000-sample run
would. (Inspect epochs would repeat identical requests and switch the metrics to their per-query-mean
path, which is a different workload.)

Inspect options of every run: ``display="none"`` and ``score_display=False``; logging is Inspect's default
(samples and realtime events logged), as a user runs it. ``--compare-options N`` measures the logging
options one by one (not keeping samples in the log is the one large saving).

Run it (about 15 minutes on a quiet 2-core machine, most of it the 10,000-sample zero-latency run;
``--quick`` takes about 3 minutes)::

    python benchmarks/speed.py                      # zero latency at 100, 1000, 10000; L = 2 s, C = 50 up to 1000
    python benchmarks/speed.py --quick              # sizes 100, 1000
    python benchmarks/speed.py --sizes 1000 --latency 0.5 --connections 10    # another L / C (50 ms/request)
    python benchmarks/speed.py --sizes 10000 --latency-max 10000              # the latency run at 10,000 too (~20 min)
    python benchmarks/speed.py --compare-options 1000                         # Inspect's logging options
    python benchmarks/speed.py --sizes 100,2000 --latency 0.2 --connections 20 --json out.json

The default L / C = 40 ms per request is far harsher than a real provider (seconds per call, Inspect's
default 10 connections) but above the pipeline's CPU per request here. Wall time is the
``inspect_ai.eval`` call (task construction excluded; Inspect's start-up, scoring, metrics and log writing
included). The printed table repeats the formula. The server counts requests itself, so ``R`` does not
depend on the log.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from inspect_ai import eval as inspect_eval
from inspect_ai.event import ModelEvent
from inspect_ai.model import GenerateConfig, get_model

from alignment_faking.organism.loopback import LoopbackConfig, LoopbackServer
from alignment_faking.tasks.gap import gap
from alignment_faking.tasks.queries import data_dir

DEFAULT_SIZES = (100, 1_000, 10_000)
QUICK_SIZES = (100, 1_000)
# L / C = 40 ms of waiting per request slot: far harsher than real providers (a scratchpad plus answer takes
# seconds, and Inspect's default max_connections is 10, i.e. hundreds of ms per slot), yet above the
# pipeline's own CPU cost per request on a 2-core machine (about 12-20 ms), which is the regime the
# target is about. Latency runs stop at LATENCY_MAX_SIZE by default: a 10,000-sample run at these
# settings takes 18 minutes of pure waiting.
DEFAULT_LATENCY = 2.0
DEFAULT_CONNECTIONS = 50
LATENCY_MAX_SIZE = 1_000
TARGET_RATIO = 1.25
BUILTIN_QUERIES = 100
BENCHMARK_OPTIONS: dict[str, Any] = {"display": "none", "score_display": False}
"""Inspect options of every run here; everything else (sample logging, realtime logging) is Inspect's default,
as a user runs it. ``--compare-options N`` measures the logging options one by one."""
OPTION_SETS: dict[str, dict[str, Any]] = {
    "Inspect defaults (log_samples, log_realtime)": {"log_samples": True, "log_realtime": True},
    "log_realtime=False": {"log_samples": True, "log_realtime": False},
    "log_samples=False": {"log_samples": False, "log_realtime": True},
    "log_samples=False, log_realtime=False (benchmark)": {"log_samples": False, "log_realtime": False},
    "... and log_buffer=100": {"log_samples": False, "log_realtime": False, "log_buffer": 100},
}
FORMULA = "ideal = R * L / C  (R: requests the server answered, all models, probes included; L: latency; C: connections = max_samples)"


def builtin_texts() -> list[dict[str, str]]:
    with (data_dir() / "builtin_requests.csv").open(encoding="utf-8", newline="") as f:
        return [row for row in csv.DictReader(f) if row.get("category") != "benign_control"]


def dataset_for(samples: int, folder: Path) -> tuple[str, str]:
    """The ``dataset`` task argument for ``samples`` samples (2 conditions each), and how it was made."""
    queries = math.ceil(samples / 2)
    if queries <= BUILTIN_QUERIES:
        return "builtin", f"builtin ({queries} of {BUILTIN_QUERIES} queries)"
    rows = builtin_texts()
    path = folder / f"queries_{queries}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(queries):
            row, copy = rows[i % len(rows)], i // len(rows) + 1
            text = row["prompt"] if copy == 1 else f"{row['prompt']} (copy {copy})"
            f.write(json.dumps({"id": f"{row['id']}c{copy}", "prompt": text}) + "\n")
    return str(path), f"generated: {queries} queries, the {len(rows)} builtin ones cycled and numbered"


def measure(
    samples: int,
    latency: float,
    connections: int,
    *,
    persona: str = "faker",
    grader: str = "gpt-4o",
    log_dir: str | Path | None = None,
    log_samples: bool = True,
    count_log_events: bool = False,
    **eval_options: Any,
) -> dict[str, Any]:
    """One run of ``samples`` samples against a fresh loopback server; its wall time, counts and ratio.

    With ``count_log_events`` the log's model events are counted per model (needs ``log_samples``), so
    the server's counts can be checked against what Inspect recorded.
    """
    if samples < 1 or connections < 1 or latency < 0:
        raise ValueError(f"need samples >= 1, connections >= 1 and latency >= 0 (got {samples}, {connections}, {latency})")
    if count_log_events and not log_samples:
        raise ValueError("count_log_events needs log_samples=True")
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="af-speed-")))
        dataset, dataset_note = dataset_for(samples, folder)
        task = gap(dataset=dataset, queries=math.ceil(samples / 2))
        server = stack.enter_context(LoopbackServer(LoopbackConfig(latency=latency), process=True))
        stack.enter_context(server.environment())
        # memoize=False: get_model() caches models by their arguments, and a cached one would still point
        # at an earlier run's server (its base URL is read when the model is made)
        roles = {
            role: get_model(f"openai/{name}", config=GenerateConfig(max_connections=connections), memoize=False,
                            base_url=server.base_url, api_key=server.env()["OPENAI_API_KEY"])
            for role, name in (("policy", persona), ("grader", grader))
        }
        started, cpu_started = time.perf_counter(), time.process_time()
        [log] = inspect_eval(
            task,
            model=roles["policy"],
            model_roles={"grader": roles["grader"]},
            max_connections=connections,
            max_samples=connections,
            limit=samples,
            log_dir=str(log_dir or folder / "logs"),
            log_samples=log_samples,
            **{**BENCHMARK_OPTIONS, **eval_options},
        )
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        stats = server.stats()
        if log.status != "success":
            raise RuntimeError(f"the eval did not succeed: {log.status} {log.error}")
        models = stats["models"]
        requests = {m: c["requests"] for m, c in models.items()}
        probes = sum(c["probes"] for c in models.values())
        total = sum(requests.values()) + probes
        ideal = total * latency / connections
        result: dict[str, Any] = {
            "samples": samples,
            "total_samples": log.results.total_samples if log.results else 0,
            "completed_samples": log.results.completed_samples if log.results else 0,
            "dataset": dataset_note,
            "latency_s": latency,
            "connections": connections,
            "max_samples": connections,
            "wall_s": wall,
            "requests": requests,
            "probes": probes,
            "total_requests": total,
            "calls_per_sample": total / samples,
            "ideal_s": ideal,
            "ratio": wall / ideal if ideal > 0 else None,
            "samples_per_s": samples / wall,
            "ms_per_sample": 1000 * wall / samples,
            "cpu_s": cpu,
            "cpu_ms_per_sample": 1000 * cpu / samples,
            "cpu_ms_per_request": 1000 * cpu / total,
            "server_max_in_flight": stats["max_in_flight"],
            "faults": stats["faults"],
            "formula": FORMULA,
        }
        if count_log_events:
            events: dict[str, int] = {}
            for sample in log.samples:
                for event in sample.events:
                    if isinstance(event, ModelEvent):
                        name = event.model.split("/", 1)[-1]
                        events[name] = events.get(name, 0) + 1
            result["log_model_events"] = events
            result["log_output_tokens"] = {m.split("/", 1)[-1]: u.output_tokens for m, u in log.stats.model_usage.items()}
            result["server_output_tokens"] = {m: c["output_tokens"] for m, c in models.items()}
        stack.close()  # stops the server, so its CPU time is counted among this process's children
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        result["server_cpu_s"] = (children.ru_utime + children.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
        return result


def run(sizes: list[int], latency: float, connections: int, latency_max: int = LATENCY_MAX_SIZE) -> list[dict[str, Any]]:
    """For each size: a zero-latency run (the pipeline's own cost) and, up to ``latency_max`` samples, a
    latency run (the ratio)."""
    rows = []
    for n in sizes:
        zero = measure(n, 0.0, connections)
        line = f"{n:>7} | {zero['wall_s']:7.1f} {zero['samples_per_s']:8.1f} {zero['ms_per_sample']:7.1f} {zero['cpu_ms_per_request']:7.1f}"
        if n > latency_max:
            rows.append({"samples": n, "zero_latency": zero, "latency": None, "cpu_bound_ratio": None})
            print(f"{line} | (no latency run above --latency-max {latency_max})", flush=True)
            continue
        delayed = measure(n, latency, connections)
        # if waiting cost nothing, the pipeline's own time alone would be this multiple of the ideal
        cpu_bound = zero["wall_s"] / delayed["ideal_s"]
        rows.append({"samples": n, "zero_latency": zero, "latency": delayed, "cpu_bound_ratio": cpu_bound})
        print(
            f"{line} | {delayed['calls_per_sample']:5.2f} {delayed['wall_s']:7.1f} {delayed['ideal_s']:7.1f} {delayed['ratio']:6.2f}"
            f" {cpu_bound:6.2f} {delayed['server_max_in_flight']:5d}",
            flush=True,
        )
    return rows


HEADER = (
    "        |      zero latency (pipeline's own cost)     |           latency L, C connections\n"
    "samples |  wall s  samples/s ms/smp cpu ms/req | calls  wall s ideal s  ratio cpu-bd in-fl"
)


def compare_options(samples: int, connections: int) -> list[dict[str, Any]]:
    """Zero-latency runs of ``samples`` samples under Inspect's logging options."""
    out = []
    for name, options in OPTION_SETS.items():
        r = measure(samples, 0.0, connections, **options)
        out.append({"options": name, **r})
        print(f"{name:<52} {r['wall_s']:7.1f} s  {r['ms_per_sample']:6.1f} ms/sample  cpu {r['cpu_ms_per_sample']:6.1f} ms/sample", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=None, help=f"comma-separated sample counts (default {','.join(map(str, DEFAULT_SIZES))})")
    parser.add_argument("--quick", action="store_true", help=f"sizes {','.join(map(str, QUICK_SIZES))}")
    parser.add_argument("--latency", type=float, default=DEFAULT_LATENCY, help="L: seconds the server waits per request (default %(default)s)")
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS, help="C: max_connections of both models, and max_samples (default %(default)s)")
    parser.add_argument("--latency-max", type=int, default=LATENCY_MAX_SIZE, help="latency runs only up to this many samples (default %(default)s)")
    parser.add_argument("--compare-options", type=int, default=None, metavar="N", help="instead: zero-latency runs of N samples under Inspect's logging options")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    except ValueError:
        parser.error(f"--sizes must be comma-separated whole numbers, e.g. 100,1000 (got {args.sizes!r})")
    if any(n < 1 for n in sizes) or args.connections < 1 or args.latency <= 0:
        parser.error("sizes and --connections must be at least 1, and --latency above 0")
    print(f"speed benchmark: gap task (dataset=builtin), openai/faker, grader openai/gpt-4o, loopback server in a child process; "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}; L={args.latency} s, C={args.connections} "
          f"(max_connections of both models and max_samples); Inspect options {BENCHMARK_OPTIONS}, logging as Inspect's defaults", flush=True)
    began = time.perf_counter()
    if args.compare_options:
        results: Any = compare_options(args.compare_options, args.connections)
    else:
        print(FORMULA)
        print("ratio = wall / ideal (target <= %.2f); cpu-bd = zero-latency wall / ideal (the ratio if waiting overlapped "
              "perfectly with the pipeline's own work); in-fl = most requests the server had in flight" % TARGET_RATIO)
        print(HEADER, flush=True)
        results = run(sizes, args.latency, args.connections, args.latency_max)
        ratios = [r["latency"]["ratio"] for r in results if r["latency"]]
        if ratios:
            worst = max(ratios)
            print(f"largest ratio {worst:.2f} (target <= {TARGET_RATIO}): {'met' if worst <= TARGET_RATIO else 'NOT met'}")
    print(f"benchmark time {time.perf_counter() - began:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"cpus": os.cpu_count(), "latency": args.latency, "connections": args.connections,
                                               "options": BENCHMARK_OPTIONS, "results": results}, indent=2))


if __name__ == "__main__":
    main()
