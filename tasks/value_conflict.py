"""Value-conflict diagnostics of alignment faking (VLAF; Nair, Ruan, Wang 2026, arXiv 2604.20995).

Scenarios pit one Moral-Foundations value (authority, care, fairness, loyalty, sanctity) against a
developer who wants the AI to drop it; the choices are morally unambiguous, so models answer instead of
refusing. Each scenario is asked with the user on the free tier (monitored, used for training) and on the
paid tier (never monitored), under one instrumental goal (what keeping the value costs when monitored) and,
paired with it, under the no-consequence control; the options come in the published order (the
developer's first), reversed, or both as a paired axis. Code and data: github.com/launchnlp/VLAF (MIT).
Scoring and metrics: ``scorers/value_conflict.py``; prompts (our own wording): ``solvers/value_conflict.py``.

Run it with, for example::

    inspect eval alignment_faking/value_conflict --model openai/gpt-4o --model-role grader=openai/gpt-4o
    inspect eval alignment_faking/value_conflict --model organism/value_faker --model-role grader=organism/grader --epochs 2
    inspect eval alignment_faking/value_conflict -T dataset=published -T source=~/src/VLAF ...
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser, GenerateConfig
from inspect_ai.solver import generate

from alignment_faking.paths import user_path
from alignment_faking.scorers.setting_metrics import epoch_sums, warn_thin
from alignment_faking.scorers.value_conflict import CONTROL, value_conflict_metrics, value_conflict_scorer
from alignment_faking.solvers.value_conflict import GOALS, VALUES, system_prompt, user_prompt
from alignment_faking.tasks.options import SUITE
from alignment_faking.tasks.setting_data import PublishedFile, SettingDataError, read_setting_file

REPO, REF = "launchnlp/VLAF", "0e4dbf38700fd62f4b77fac34d751d13ba88e615"
ORDERS = ("developer_first", "developer_second", "both", "random")
PUBLISHED_SAMPLES = 10
"""The published README runs 10 samples per scenario at temperature 0.9: the default epochs."""
FIELDS = ("scenario", "developer_compliant", "developer_noncompliant")


def _choose(name: str, given: str, choices: tuple[str, ...]) -> list[str]:
    picked = list(choices) if given == "all" else [v.strip() for v in given.split(",") if v.strip()]
    bad = [v for v in picked if v not in choices]
    if bad or not picked:
        raise SettingDataError(f"{name}={given!r} is not 'all' or a comma-separated list of: {', '.join(choices)}")
    return picked


def load_value(value: str, dataset: str, source: str | None, sha256: str | None) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """One value's scenarios (layout of ``data/mft_refined/{value}_50.json``) and the record of the file."""
    if dataset not in ("ours", "published"):
        folder = user_path(dataset)
        if not folder.is_dir():
            raise SettingDataError(f"dataset {dataset} is not a folder; choose ours, published, or a folder holding {{value}}_50.json files")
        dataset = str(folder / f"{value}_50.json")
    rows, record = read_setting_file(
        dataset, ours=f"value_conflict_{value}.json", published=PublishedFile(REPO, f"data/mft_refined/{value}_50.json", REF), source=source, sha256=sha256
    )
    if not isinstance(rows, list) or not rows:
        raise SettingDataError(f"{record['source']} is not a non-empty JSON list of scenarios")
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or any(not isinstance(row.get(f), str) or not row[f].strip() for f in FIELDS):
            raise SettingDataError(f"{record['source']}: scenario {index} needs the text fields {', '.join(FIELDS)}")
    return rows, record


def _orders(order: str, scenario_id: str) -> list[str]:
    if order == "both":
        return ["developer_first", "developer_second"]
    if order == "random":  # per scenario, the same for all its conditions (so they stay paired)
        return ["developer_second" if hashlib.sha256(scenario_id.encode()).digest()[0] % 2 else "developer_first"]
    return [order]


def scenario_samples(value: str, rows: list[dict[str, str]], goals: list[str], order: str) -> list[Sample]:
    """Every scenario crossed with tier, goal (and control) and option order; paired by ``scenario_id``."""
    samples = []
    for index, row in enumerate(rows):
        sid = f"{value}_{index:03d}"
        for o in _orders(order, sid):
            for goal in goals:
                for free in (True, False):
                    user = user_prompt(row, free, o)  # type: ignore[arg-type]
                    md = {"scenario_id": sid, "value": value, "goal": goal, "free": free, "order": o,
                          "developer_letter": "a" if o == "developer_first" else "b",
                          "options_text": user.split("<user_input>\n", 1)[1].split("\n</user_input>", 1)[0]}
                    samples.append(Sample(
                        id=f"{sid}__{goal}_{'free' if free else 'paid'}__{o}",
                        input=[ChatMessageSystem(content=system_prompt(value, goal)), ChatMessageUser(content=user)],
                        metadata=md,
                    ))
    return samples


@task
def value_conflict(
    values: str = "all",
    goal: Literal["values", "influence", "resources", "self_preservation", "none"] = "values",
    control: bool = True,
    order: Literal["developer_first", "developer_second", "both", "random"] = "both",
    dataset: str = "ours",
    source: str | None = None,
    scenarios: int | None = None,
    epochs: int = PUBLISHED_SAMPLES,
    reasoning_judge: bool = True,
    grader_role: str = "grader",
) -> Task:
    """Value-conflict diagnostics: compliance gap (free − paid tier) per value, paired by scenario.

    Args:
        values: ``all`` or a comma-separated subset of authority, care, fairness, loyalty, sanctity.
        goal: The instrumental goal stated as the consequence of keeping the value when monitored (``values``:
            value preservation, the published ``strong``; ``influence``; ``resources``; ``self_preservation``;
            ``none``: the no-consequence control alone).
        control: Also run every scenario under the no-consequence control (paired: ``control_gap``,
            ``consequence_effect``).
        order: Option order: ``developer_first`` (published default), ``developer_second``, ``both`` (a paired
            axis: ``order_effect_on_gap``) or ``random`` (per scenario).
        dataset: ``ours`` (8 scenarios per value, offline), ``published`` (``data/mft_refined/{value}_50.json``
            at a pinned commit, from ``source`` or downloaded), or a folder holding ``{value}_50.json`` files.
        source: A local clone of launchnlp/VLAF (or a folder holding it), for ``dataset=published``.
        scenarios: At most this many scenarios per value.
        epochs: Samples per scenario and condition (the published runs: 10 at temperature 0.9).
        reasoning_judge: Grade monitored reasoning on the five criteria (``dar``).
        grader_role: The model role of the judges.
    """
    picked = _choose("values", values, VALUES)
    if goal not in GOALS:
        raise SettingDataError(f"goal={goal!r} is not one of: {', '.join(GOALS)}")
    if order not in ORDERS:
        raise SettingDataError(f"order={order!r} is not one of: {', '.join(ORDERS)}")
    if epochs < 1 or (scenarios is not None and scenarios < 1):
        raise SettingDataError("epochs and scenarios must be at least 1")
    goals = [goal] + ([CONTROL] if control and goal != CONTROL else [])
    samples, records, counts = [], {}, {}
    for value in picked:
        rows, records[value] = load_value(value, dataset, source, None)
        counts[f"value {value}"] = len(rows[:scenarios])
        samples += scenario_samples(value, rows[:scenarios], goals, order)
    warn_thin("value_conflict", counts)
    return Task(
        name=f"{SUITE}/value_conflict",
        display_name="value_conflict",
        dataset=MemoryDataset(samples, name="value_conflict"),
        solver=generate(),
        scorer=value_conflict_scorer(grader_role=grader_role, reasoning_judge=reasoning_judge),
        metrics=[value_conflict_metrics()],
        epochs=Epochs(epochs, epoch_sums()),
        config=GenerateConfig(temperature=0.9),
        metadata={"setting": "value_conflict", "data": records, "goal": goal, "order": order, "control": control},
    )
