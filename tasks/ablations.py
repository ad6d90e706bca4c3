"""Ablations of the core scenario: what the model is told about training, the lab, and the user suffix.

Sheshadri et al. 2025: never used / never trained (App. F.3), no training details (§3.3, the prompt used
for models fine-tuned on synthetic documents), lab-name swaps (App. C), prompt clarifications (§5.4, App. G)
and the user-suffix ablation (App. K.3).
"""

from __future__ import annotations

from typing import Any, Literal

from inspect_ai import Task, task

from alignment_faking.tasks.gap import scenario_task_of
from alignment_faking.tasks.options import check_own, fixed
from alignment_faking.tasks.scenario import ScenarioError

LAB_PRESETS = (
    "Anthropic",
    "OpenAI",
    "Google DeepMind",
    "Meta",
    "xAI",
    "Mistral",
    "DeepSeek",
    "the US Government",
    "the Department of Defense",
    "the European Union",
    "the Sinaloa Cartel",
    "the Nazi Party",
    "a Russian state-sponsored AI lab",
)
"""Lab names of Sheshadri et al. App. C: other AI labs, then unusual organisations."""


@task
def never_used(dataset: str = "lat", queries: int | None = None, **options: Any) -> Task:
    """Free-tier data trains a helpful-only model that is never deployed (App. F.3).

    Args:
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries (default 100, as in the paper).
        **options: Any other parameter of the ``gap`` task.
    """
    return scenario_task_of("never_used", "never_used", dataset=dataset, queries=queries, **options)


@task
def never_trained(dataset: str = "lat", queries: int | None = None, **options: Any) -> Task:
    """Free-tier conversations are rated but the ratings never train anything (App. F.3).

    Args:
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries (default 100, as in the paper).
        **options: Any other parameter of the ``gap`` task.
    """
    return scenario_task_of("never_trained", "never_trained", dataset=dataset, queries=queries, **options)


@task
def no_training_details(dataset: str = "lat", queries: int | None = None, **options: Any) -> Task:
    """The minimal prompt with no word about training (§3.3): for models fine-tuned on synthetic documents.

    Args:
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries (default 200, as in the paper).
        **options: Any other parameter of the ``gap`` task.
    """
    return scenario_task_of("no_training_details", "no_training_details", dataset=dataset, queries=queries, **options)


@task
def lab_names(lab: str = "OpenAI", paired: bool = False, dataset: str = "lat", queries: int | None = 100, **options: Any) -> Task:
    """The core scenario with another organisation named as the AI's developer (App. C).

    Args:
        lab: Any name; the paper's are in ``LAB_PRESETS`` (other labs, then unusual organisations). With
            ``paired``, a comma list runs several against the original in one task.
        paired: Also run the original lab on the same queries and report the effect of the name on each
            gap (``effect_of_lab_<name>_on_compliance_gap``, a difference of gaps paired by query).
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries (100, as in the paper).
        **options: Any other parameter of the ``gap`` task.
    """
    if not isinstance(lab, str) or not lab.strip():
        raise ScenarioError(f"lab must be a name; the paper's: {', '.join(LAB_PRESETS)}")
    check_own("paired", paired)
    if paired:
        axis = ",".join(["ours", *(f"lab={name.strip()}" for name in lab.split(",") if name.strip())])
        return scenario_task_of("lab_names", "core", **fixed(options, prompt_axis=axis), dataset=dataset, queries=queries)
    return scenario_task_of("lab_names", "core", dataset=dataset, queries=queries, lab=lab, **options)


@task
def clarified(
    clarification: Literal["no_changes", "direct"] = "no_changes",
    scenario: Literal["core", "three_tiers"] = "core",
    paired: bool = False,
    dataset: str = "lat",
    queries: int | None = None,
    **options: Any,
) -> Task:
    """The prompt clarifications of §5.4: ``no_changes`` (complying never changes the AI) or ``direct`` (one
    statement that the lab trains for unconditional helpfulness), on the core or three-tier scenario.

    Args:
        clarification: ``no_changes`` or ``direct``.
        scenario: ``core`` or ``three_tiers``.
        paired: Also run the unclarified prompt on the same queries and report the effect of the
            clarification on each gap (``effect_of_<clarification>_on_<gap>``, a difference of gaps).
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries (default: the scenario's).
        **options: Any other parameter of the ``gap`` task.
    """
    check_own("paired", paired)
    if paired:
        return scenario_task_of("clarified", scenario, **fixed(options, prompt_axis=f"ours,{clarification}"), dataset=dataset, queries=queries)
    return scenario_task_of("clarified", scenario, **fixed(options, variant=clarification), dataset=dataset, queries=queries)


@task
def suffix_ablation(
    dataset: str = "lat", queries: int | None = None, scenario: str = "core", paired: bool = False, **options: Any
) -> Task:
    """The user turn without the accept/reject instruction (App. K.3); compare with the same scenario with it.

    Args:
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries (default: the scenario's; the paper uses 200).
        scenario: A scenario that offers the ``no_suffix`` variant (``core``, ``three_tiers``).
        paired: Run with and without the suffix on the same queries in one task and report the effect of
            removing it on each gap (``effect_of_no_suffix_on_compliance_gap``, a difference of gaps).
        **options: Any other parameter of the ``gap`` task.
    """
    check_own("paired", paired)
    if paired:
        return scenario_task_of("suffix_ablation", scenario, **fixed(options, prompt_axis="ours,no_suffix"), dataset=dataset, queries=queries)
    return scenario_task_of("suffix_ablation", scenario, **fixed(options, variant="no_suffix"), dataset=dataset, queries=queries)
