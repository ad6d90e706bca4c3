"""Compare two folders of eval logs: every per-sample score and every metric must be equal.

Used to show that a refactoring left behaviour unchanged: run the same tasks (on the organism, which answers
deterministically) before and after the change, then::

    python benchmarks/compare_logs.py /tmp/before /tmp/after

Logs are paired by task name and task arguments; for each pair every sample's score values (per scorer, per
epoch), every metric of every scorer, the task's metadata (conditions, contrasts, facts…) and every sample's
messages are compared (NaN equals NaN). Prints one line of figures and each
difference; exits 1 when anything differs or a log has no partner.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalLog, list_eval_logs, read_eval_log


@dataclass
class Comparison:
    logs: int = 0
    samples: int = 0
    scores: int = 0
    metrics: int = 0
    differences: list[str] = field(default_factory=list)


def _key(log: EvalLog) -> str:
    """A log's identity across two runs: its task and the arguments it was given."""
    return f"{log.eval.task} {json.dumps(log.eval.task_args, sort_keys=True, default=str)}"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _sample_scores(log: EvalLog) -> dict[str, Any]:
    """(sample id, epoch, scorer) -> the score's value."""
    return {
        f"{s.id}#{s.epoch}/{name}": score.value
        for s in log.samples or []
        for name, score in (s.scores or {}).items()
    }


def _metrics(log: EvalLog) -> dict[str, Any]:
    """(scorer, metric) -> value, for every scorer of the results."""
    results = log.results.scores if log.results else []
    return {f"{s.name}/{name}": m.value for s in results for name, m in s.metrics.items()}


def _messages(log: EvalLog) -> dict[str, Any]:
    """(sample id, epoch) -> the texts of the sample's messages (prompts, responses, follow-ups)."""
    return {f"{s.id}#{s.epoch}": [m.text for m in s.messages] for s in log.samples or []}


def _read(folder: Path) -> dict[str, EvalLog]:
    logs: dict[str, EvalLog] = {}
    for info in list_eval_logs(str(folder)):
        log = read_eval_log(info)
        key = _key(log)
        if key in logs:
            raise SystemExit(f"{folder}: two logs of {key}; give folders with one log per task and arguments")
        logs[key] = log
    return logs


def compare(before: Path, after: Path) -> Comparison:
    """Every per-sample score and metric of the logs in ``before`` against those in ``after``."""
    old, new = _read(before), _read(after)
    result = Comparison()
    for key in sorted(set(old) ^ set(new)):
        result.differences.append(f"{key}: only in {before if key in old else after}")
    for key in sorted(set(old) & set(new)):
        result.logs += 1
        a, b = old[key], new[key]
        result.samples += len(a.samples or [])
        result.scores += len(_sample_scores(a))
        result.metrics += len(_metrics(a))
        for kind, left, right in (
            ("score", _sample_scores(a), _sample_scores(b)),
            ("metric", _metrics(a), _metrics(b)),
            ("task metadata", a.eval.metadata or {}, b.eval.metadata or {}),
            ("messages", _messages(a), _messages(b)),
        ):
            for name in sorted(set(left) | set(right)):
                if name not in left or name not in right or not _same(left[name], right[name]):
                    result.differences.append(f"{key}: {kind} {name}: {left.get(name, '(absent)')!r} != {right.get(name, '(absent)')!r}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    result = compare(args.before, args.after)
    print(
        f"{result.logs} log pairs, {result.samples} samples, {result.scores} per-sample scores, "
        f"{result.metrics} metrics compared; {len(result.differences)} differences"
    )
    for line in result.differences[:50]:
        print("  " + line)
    return 1 if result.differences else 0


if __name__ == "__main__":
    sys.exit(main())
