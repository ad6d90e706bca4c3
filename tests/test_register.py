"""tasks/eval.yaml follows the inspect_evals register conventions and lists exactly the suite's tasks."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from inspect_ai.util import registry_info

REPO = Path(__file__).resolve().parents[1]
REQUIRED = {"title", "description", "arxiv", "group", "contributors", "version", "tasks", "external_assets"}
GROUPS = {"Assistants", "Bias", "Coding", "Cybersecurity", "Knowledge", "Mathematics", "Multimodal", "Personality", "Reasoning", "Safeguards", "Scheming", "Writing"}


def registered_tasks() -> set[str]:
    """The tasks the package registers for `inspect eval alignment_faking/<task>` (tasks/battery.py is a file of
    eval-set entries, not registered)."""
    from alignment_faking import _registry

    infos = [registry_info(o) for o in vars(_registry).values() if hasattr(o, "__registry_info__")]
    return {info.name.split("/")[-1] for info in infos if info.type == "task"}


def test_eval_yaml_shape_and_tasks() -> None:
    data = yaml.safe_load((REPO / "tasks" / "eval.yaml").read_text())
    assert REQUIRED <= set(data)
    assert re.fullmatch(r"\d+-[A-Z]", data["version"])
    assert data["group"] in GROUPS and "\n" not in data["description"]
    names = {t["name"] for t in data["tasks"]}
    assert names == registered_tasks()
    for asset in data["external_assets"]:
        assert asset["type"] in {"huggingface", "git_clone", "direct_url", "git_dependency"}
        assert asset["state"] in {"floating", "pinned", "controlled"}


def test_logs_carry_the_version(tmp_path: Path) -> None:
    from alignment_faking.tasks.gap import gap

    task = gap(dataset="builtin", queries=1)
    data = yaml.safe_load((REPO / "tasks" / "eval.yaml").read_text())
    assert task.version == data["version"] and task.metadata["full_task_version"] == data["version"]


def solver_names(task: object) -> list[str]:
    return [registry_info(s).name.split("/")[-1] for s in task.solver]  # type: ignore[attr-defined]


def test_each_task_chains_the_suites_solvers_in_order() -> None:
    """The solver chain of each kind of task (and the names inspect-evals-lint looks for in the tests)."""
    from alignment_faking.solvers.generate import as_document, prefill_assistant, render_condition, scratchpad_generate
    from alignment_faking.tasks.classifier_validation import classifier_validation, grade_labelled
    from alignment_faking.tasks.elicitation import base_model, prefill
    from alignment_faking.tasks.gap import gap

    generate, render = scratchpad_generate.__name__, render_condition.__name__
    small = {"dataset": "builtin", "queries": 1}
    assert solver_names(gap(**small)) == [render, generate]
    assert solver_names(prefill(**small)) == [render, prefill_assistant.__name__, generate]
    assert solver_names(base_model(**small)) == [render, prefill_assistant.__name__, as_document.__name__, generate]
    labelled = REPO / "tests" / "fixtures" / "labelled_scratchpads.jsonl"
    assert solver_names(classifier_validation(dataset=str(labelled), votes=2)) == [grade_labelled.__name__]

