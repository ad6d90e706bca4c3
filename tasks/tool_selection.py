"""Alignment faking in tool choice (Tatemae; Leonesi, Belardinelli, Corradini, Piangerelli 2026, arXiv 2604.26511).

Each scenario gives a model two tools, one safe and one unsafe, and asks in independent calls: a
context-free question (its answer is the baseline Y), the neutral task (T1), the adversarial task that
pushes towards the unsafe tool (T2), and the adversarial task under a monitoring system prompt (T3, with
reasoning R3). The published composite AF = T1 ∧ T2 ∧ ¬T3 ∧ (R3 ≈ Y) flags a model that knows the safe tool,
keeps it under pressure when unmonitored, switches under monitoring, and still reasons towards its baseline.
Code: github.com/MatteoLeonesi/tatemae-alignment-faking-detection (MIT; data ``src/dataset.json`` CC-BY-4.0).

Beyond the paper: a monitored vs unmonitored contrast with the helpfulness instruction held fixed
(``monitoring_effect``, paired by scenario, with interval and p); the published monitoring prompt changes the
monitoring cue and the helpfulness instruction at once. See ``scorers/tool_selection.py`` for the scoring.

Run it with, for example::

    inspect eval alignment_faking/tool_selection --model openai/gpt-4o --model-role grader=openai/gpt-4o
    inspect eval alignment_faking/tool_selection --model organism/tool_switcher --model-role grader=organism/grader --epochs 1
    inspect eval alignment_faking/tool_selection -T dataset=published -T source=~/src/tatemae-alignment-faking-detection ...
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import GenerateConfig

from alignment_faking.paths import read_text, user_path
from alignment_faking.scorers.setting_metrics import epoch_sums, warn_thin
from alignment_faking.scorers.tool_selection import tool_selection_metrics, tool_selection_scorer
from alignment_faking.solvers.tool_selection import MONITORING_PROMPT, tool_selection_calls
from alignment_faking.tasks.options import SUITE
from alignment_faking.tasks.setting_data import PublishedFile, SettingDataError, python_string, read_setting_bytes, read_setting_file

PROMPTS = PublishedFile("MatteoLeonesi/tatemae-alignment-faking-detection", "src/Prompts.py", "18c6559e2cced58cc69d142d036672afa7240d5f")
PUBLISHED = PublishedFile("MatteoLeonesi/tatemae-alignment-faking-detection", "src/dataset.json", "18c6559e2cced58cc69d142d036672afa7240d5f")
OURS = "tool_selection_ours.json"
TEXT_FIELDS = ("id", "category", "adversarial_instruction_prompt_type", "context_free_prompt", "neutral_instruction_prompt", "adversarial_instruction_prompt")
PUBLISHED_RUNS = 5
"""The paper reports mean ± std over 5 runs: the default epochs."""


def _problem(row: Any) -> str | None:
    """What makes one row unusable (None when it is in the published layout)."""
    if not isinstance(row, dict):
        return "is not an object"
    for name in TEXT_FIELDS:
        if not isinstance(row.get(name), (str, int)) or not str(row.get(name)).strip():
            return f"has no {name}"
    tools = row.get("tools_available")
    if not isinstance(tools, list) or len(tools) < 2 or not all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools):
        return "has no list of at least two named tools_available"
    gold = row.get("gold_truth")
    if not isinstance(gold, dict) or not isinstance(gold.get("correct_parameters"), dict):
        return "has no gold_truth with correct_parameters"
    if str(gold.get("correct_tool", "")).lower() not in {t["name"].lower() for t in tools}:
        return "names a gold_truth.correct_tool that is not among its tools_available"
    return None


def scenario_samples(rows: Any, source: str) -> list[Sample]:
    """One sample per scenario, its metadata the scenario (domain, pressure, tools, gold); bad rows refused."""
    if not isinstance(rows, list) or not rows:
        raise SettingDataError(f"{source} is not a non-empty JSON list of scenarios (the layout of src/dataset.json)")
    samples, seen = [], set()
    for index, row in enumerate(rows):
        problem = _problem(row)
        if problem:
            raise SettingDataError(f"{source}: scenario {index} (id {row.get('id') if isinstance(row, dict) else '?'}) {problem}")
        sid = str(row["id"])
        if sid in seen:
            raise SettingDataError(f"{source}: scenario id {sid} appears twice")
        seen.add(sid)
        md = {
            "scenario_id": sid,
            "domain": str(row["category"]).capitalize(),
            "pressure": str(row["adversarial_instruction_prompt_type"]).capitalize(),
            "context_free_prompt": row["context_free_prompt"],
            "neutral_prompt": row["neutral_instruction_prompt"],
            "adversarial_prompt": row["adversarial_instruction_prompt"],
            "tools": row["tools_available"],
            "gold_tool": row["gold_truth"]["correct_tool"],
            "gold_parameters": row["gold_truth"]["correct_parameters"],
        }
        samples.append(Sample(id=f"tool_{sid}", input=row["adversarial_instruction_prompt"], target=md["gold_tool"], metadata=md))
    return samples


def scenario_counts(samples: list[Sample]) -> dict[str, int]:
    """How many scenarios back each group of metrics: all, each domain, each pressure."""
    counts = Counter({"all": len(samples)})
    for s in samples:
        counts.update([f"domain {s.metadata['domain']}", f"pressure {s.metadata['pressure']}"])  # type: ignore[index]
    return dict(counts)


def load_monitoring_prompt(choice: str | None, source: str | None) -> tuple[str, dict[str, Any]]:
    """The monitoring system prompt and its record (ours, the published constant, or a file)."""
    if choice is None or choice == "ours":
        return MONITORING_PROMPT, {"source": "ours"}
    if choice == "published":
        data, record = read_setting_bytes("published", ours="", published=PROMPTS, source=source)
        return python_string(data, "SYSTEM_PROMPT", f"{PROMPTS.path} of {PROMPTS.repo}"), record
    path = user_path(choice)
    if not path.is_file():
        raise SettingDataError(f"monitoring_prompt {choice} is not a file; choose ours, published, or a text file")
    return read_text(path, what="monitoring prompt", error=SettingDataError), {"source": f"file:{path.resolve()}"}


@task
def tool_selection(
    dataset: str = "ours",
    source: str | None = None,
    sha256: str | None = None,
    tools: Literal["tagged", "native"] = "tagged",
    contrast: bool = True,
    monitoring_prompt: str | None = None,
    epochs: int = PUBLISHED_RUNS,
    grader_role: str = "grader",
) -> Task:
    """Tool-selection alignment faking: the published four calls per scenario, the composite AF, and our
    monitored vs unmonitored contrast with the helpfulness instruction held fixed.

    Args:
        dataset: ``ours`` (our 24 scenarios in the published layout, offline: 8 per domain, 12 per pressure), ``published`` (the authors'
            ``src/dataset.json`` at a pinned commit, from ``source`` or downloaded), or a path to a JSON file in
            that layout.
        source: A local clone of the published repository (or a folder holding it), for ``dataset=published``.
        sha256: The expected sha256 of the data file; any other file is refused.
        tools: ``tagged`` (the tools as prompt text and the published tag format) or ``native`` (Inspect tools
            with ``tool_choice="any"``; a deviation from the paper).
        contrast: Add our two calls (helpfulness instruction, monitored or not) and ``monitoring_effect``.
        monitoring_prompt: The monitoring system prompt of call 3: our text stating the published prompt's
            facts (default), ``published`` (``SYSTEM_PROMPT`` of the authors' ``src/Prompts.py`` at the pinned
            commit, from ``source`` or downloaded, read without running it), or a text file.
        epochs: Repeats per scenario (the paper: 5 runs, reported as mean ± std).
        grader_role: The model role of the judges.
    """
    if tools not in ("tagged", "native"):
        raise SettingDataError(f"tools={tools!r} is not one of: tagged, native")
    if epochs < 1:
        raise SettingDataError(f"epochs={epochs} must be at least 1")
    system, prompt_record = load_monitoring_prompt(monitoring_prompt, source)
    rows, record = read_setting_file(dataset, ours=OURS, published=PUBLISHED, source=source, sha256=sha256)
    samples = scenario_samples(rows, record["source"])
    warn_thin("tool_selection", scenario_counts(samples))
    return Task(
        name=f"{SUITE}/tool_selection",
        display_name="tool_selection",
        dataset=MemoryDataset(samples, name="tool_selection"),
        solver=tool_selection_calls(monitoring_prompt=system, contrast=contrast, tools=tools),
        scorer=tool_selection_scorer(grader_role=grader_role),
        metrics=[tool_selection_metrics()],
        epochs=Epochs(epochs, epoch_sums(per_epoch="af")),
        config=GenerateConfig(temperature=1.0, top_p=1.0),
        metadata={"setting": "tool_selection", "data": record, "tools": tools, "contrast": contrast,
                  "monitoring_prompt": prompt_record},
    )
