"""Follow a task parameter through the code: which of the suite's files the functions that receive it live in.

Builds ``gap(dataset="builtin", queries=2, ...)`` under a profiler and records, in call order, the file of every
suite function called with the parameter among its arguments (the value itself, or an object that carries it:
the scenario read from the file, the task options). Prints the files visited, how many times the path
returns to a file it had left, and the pairs of files it crosses between most::

    python benchmarks/follow_parameter.py scenario
    python benchmarks/follow_parameter.py af_votes

Run from the repository root; the counts depend only on the code, not the machine.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path
from types import FrameType
from typing import Any, Callable

from alignment_faking.tasks.gap import gap

ROOT = Path(__file__).resolve().parent.parent
MARK = 17
"""The ``af_votes`` value followed (one no other argument of a task build takes)."""


def _carries_scenario(value: Any) -> bool:
    return value == "core" if isinstance(value, str) else type(value).__name__ in ("Scenario", "Selection")


def _carries_votes(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return value == MARK
    return any(getattr(value, name, None) == MARK for name in ("af_votes", "votes")) if not isinstance(value, (str, bytes, dict, list)) else False


FOLLOW: dict[str, tuple[Callable[[Any], bool], dict[str, Any]]] = {
    "scenario": (_carries_scenario, {}),
    "af_votes": (_carries_votes, {"af_votes": MARK}),
}


def follow(parameter: str, hop: bool = False) -> list[str]:
    """The repository files, in call order, of the suite functions called with ``parameter`` (with ``hop``:
    and of those such a function calls directly, e.g. the template functions a scenario's prompt is rendered
    by), repeats collapsed."""
    carries, extra = FOLLOW[parameter]
    path: list[str] = []
    carriers: set[int] = set()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        file = Path(frame.f_code.co_filename)
        if ".venv" in file.parts or not file.is_relative_to(ROOT):
            return
        code = frame.f_code
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]  # positional-only ones included
        values = [frame.f_locals.get(n) for n in names]
        if code.co_flags & 0x08:  # **kwargs
            values += list((frame.f_locals.get(code.co_varnames[len(names) + bool(code.co_flags & 0x04)]) or {}).values())
        try:
            hit = any(carries(v) for v in values)
        except Exception:  # an argument that cannot be compared is not the parameter
            hit = False
        if hit:
            carriers.add(id(frame))
        hit = hit or (hop and frame.f_back is not None and id(frame.f_back) in carriers)
        relative = str(file.relative_to(ROOT))
        if hit and (not path or path[-1] != relative):
            path.append(relative)

    sys.setprofile(profile)
    try:
        gap(dataset="builtin", queries=2, **extra)
    finally:
        sys.setprofile(None)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parameter", choices=sorted(FOLLOW))
    parser.add_argument("--hop", action="store_true", help="also the functions those that receive it call directly")
    args = parser.parse_args(argv)
    path = follow(args.parameter, args.hop)
    seen: set[str] = set()
    returns = 0
    for file in path:
        returns += file in seen
        seen.add(file)
    crossings = collections.Counter(tuple(sorted(pair)) for pair in zip(path, path[1:]))
    print(f"{args.parameter}: {len(seen)} files visited, {len(path) - 1} moves, {returns} returns to a file already left")
    print("path: " + " -> ".join(path))
    for (a, b), n in crossings.most_common(3):
        print(f"  {n} crossings between {a} and {b}")


if __name__ == "__main__":
    main()
