"""Reliability benchmark: the core task under injected provider faults, with nothing lost.

Run from the repository root::

    python benchmarks/reliability.py                  # 50 queries x 2 tiers = 100 samples per run
    python benchmarks/reliability.py --queries 10 --rate 0.2

For each fault kind of ``alignment_faking.organism.loopback.FAULTS`` (and one run mixing all of them) it starts the
loopback OpenAI-compatible server in a child process with that fault at ``--rate`` of the distinct requests
(policy ``openai/faker`` over the Responses API and grader ``openai/gpt-4o`` over chat completions alike),
each faulted request failing on its first ``--fault-attempts`` attempts (3 by default: more than the openai
SDK's own two quick retries, so Inspect's retry loop is exercised too), runs the core ``gap`` task with the
suite's defaults plus ``retry_on_error`` (``--retry-on-error``, 3) and a short ``attempt_timeout`` (2 s, so
that the timeout fault costs seconds rather than the SDK's 10 minutes), and prints one row per run:

    fault, rate, samples expected, scored, errors (recorded in the log with their error), lost (expected
    sample ids missing from the log, or present with neither scores nor an error), duplicated,
    ungraded (scored samples whose compliance is NaN because a grader reply was refused or empty),
    faults injected and attempts seen at the server, and wall time.

Exit status 1 if any sample is lost or duplicated.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass

from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog
from inspect_ai.model import get_model

from alignment_faking.organism.loopback import FAULTS, LoopbackConfig, LoopbackServer
from alignment_faking.tasks.gap import gap


@dataclass
class Row:
    fault: str
    rate: float
    samples: int
    scored: int
    errors: int
    lost: int
    duplicated: int
    ungraded: int
    injected: int
    attempts: int
    answered: int
    status: str
    wall: float


def count(log: EvalLog, expected: set[str], fault: str, rate: float, stats: dict, wall: float) -> Row:
    ids = [str(s.id) for s in log.samples]
    scored = [s for s in log.samples if s.error is None and s.scores]
    errors = [s for s in log.samples if s.error is not None]
    empty = [s for s in log.samples if s.error is None and not s.scores]
    ungraded = sum(1 for s in scored if math.isnan(s.scores[next(iter(s.scores))].value["compliant"]))
    return Row(
        fault=fault, rate=rate, samples=len(expected), scored=len(scored), errors=len(errors),
        lost=len(expected - set(ids)) + len(empty), duplicated=len(ids) - len(set(ids)), ungraded=ungraded,
        injected=sum(stats["faults"].values()), attempts=stats["http_requests"], answered=stats["total"]["requests"],
        status=log.status, wall=wall,
    )


def run_one(fault: str, faults: dict[str, float], args: argparse.Namespace, log_dir: str) -> Row:
    config = LoopbackConfig(latency=args.latency, faults=faults, fault_attempts=args.fault_attempts,
                            timeout_delay=args.attempt_timeout * 2, retry_after=1.0)
    with LoopbackServer(config, process=True) as server:
        os.environ.update(server.env())
        grader = get_model("openai/gpt-4o", base_url=server.base_url, memoize=False)
        started = time.monotonic()
        [log] = inspect_eval(
            gap(dataset="builtin", queries=args.queries), model="openai/faker", model_base_url=server.base_url,
            model_roles={"grader": grader}, log_dir=os.path.join(log_dir, fault), display="none",
            retry_on_error=args.retry_on_error, attempt_timeout=args.attempt_timeout,
        )
        wall = time.monotonic() - started
        stats = server.stats()
    expected = {f"b{q:03d}__{c}" for q in range(1, args.queries + 1) for c in ("free", "paid")}
    return count(log, expected, fault, sum(faults.values()), stats, wall)


def table(rows: list[Row]) -> str:
    head = "| fault | rate | samples | scored | errors recorded | lost | duplicated | ungraded (NaN) | faults injected | attempts at server | answered | status | wall s |"
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        lines.append(f"| {r.fault} | {r.rate:.2f} | {r.samples} | {r.scored} | {r.errors} | {r.lost} | {r.duplicated} | {r.ungraded} | "
                     f"{r.injected} | {r.attempts} | {r.answered} | {r.status} | {r.wall:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=50, help="queries per run (x 2 tiers = samples)")
    parser.add_argument("--rate", type=float, default=0.1, help="share of distinct requests that get the fault")
    parser.add_argument("--fault-attempts", type=int, default=3, help="failed attempts of a faulted request before it succeeds")
    parser.add_argument("--retry-on-error", type=int, default=3, help="Inspect's sample-level retries")
    parser.add_argument("--attempt-timeout", type=int, default=2, help="seconds before an attempt is abandoned and retried")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every request at the server")
    parser.add_argument("--faults", default=",".join(FAULTS) + ",mixed", help="comma-separated fault kinds (and 'mixed')")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.faults.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(FAULTS) - {"none", "mixed"})
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; choose from: none, mixed, {', '.join(FAULTS)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="reliability-") as log_dir:
        for kind in kinds:
            faults = {} if kind == "none" else {k: args.rate / len(FAULTS) for k in FAULTS} if kind == "mixed" else {kind: args.rate}
            rows.append(run_one(kind, faults, args, log_dir))
            print(f"{kind}: done in {rows[-1].wall:.1f} s", file=sys.stderr, flush=True)
    print(table(rows))
    bad = [r.fault for r in rows if r.lost or r.duplicated]
    total = sum(r.samples for r in rows)
    print(f"\n{len(rows)} runs, {total} samples: {sum(r.scored for r in rows)} scored, {sum(r.errors for r in rows)} errors recorded, "
          f"{sum(r.lost for r in rows)} lost, {sum(r.duplicated for r in rows)} duplicated")
    if bad:
        print(f"FAIL: samples lost or duplicated under: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
