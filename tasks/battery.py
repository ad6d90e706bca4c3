"""The scenario battery of Sheshadri et al. 2025 as one eval-set, each scenario with its own settings.

    inspect eval-set tasks/battery.py --model openai/gpt-4o --log-dir logs/battery
    inspect eval-set tasks/battery.py --model organism/faker --model-role grader=organism/grader \\
        -T dataset=builtin -T queries=4 --log-dir logs/battery-demo

Every ``-T`` is passed to every task of the set (Inspect's rule), so ``-T`` sets what the tasks share
(``dataset``, ``queries``, ``cot``, ``af_votes``…); what makes an entry that entry (the pre-deployment prompt
version, the clarification, the variant) is fixed here and a ``-T`` for it is ignored with a warning. A
misspelt ``-T`` name still stops the set before any model is called. Run the same command again to resume
an interrupted set: finished tasks are kept, unfinished ones resume (``inspect eval-set`` semantics).

Left out, because they need something a chat model on an ordinary API does not offer: ``prefill`` (a
provider that continues an assistant turn; run ``inspect eval-set tasks/elicitation.py@prefill -T
kind=however`` on one), ``base_model`` (a completions endpoint) and ``classifier_validation`` (the model
under test is a grader; other data). The animal-welfare entries always run on their own queries (``-T dataset``
is ignored for them with a warning: the shared dataset holds harmful requests). The two newer settings come
last, one epoch each: ``tool_selection`` and ``value_conflict`` run on our own scenarios with ``-T
dataset=builtin`` (offline) and on the published ones otherwise; they take their own ``-T`` names
(``tools``, ``values``…) and ignore the core's with a warning. Each log is named ``alignment_faking/<entry>``.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable

from inspect_ai import Task, task

from alignment_faking.tasks.gap import scenario_task_of
from alignment_faking.tasks.options import check_parameter_names, fixed
from alignment_faking.tasks.scenario import ScenarioError
from alignment_faking.tasks.tool_selection import tool_selection as tool_selection_task
from alignment_faking.tasks.value_conflict import value_conflict as value_conflict_task


@task
def gap(**options: Any) -> Task:
    """Free vs paid tier, the core setting (Sheshadri et al. §3.2, Fig. 1)."""
    return scenario_task_of("gap", "core", **options)


@task
def three_tiers(**options: Any) -> Task:
    """Free, pro and enterprise tiers: goal guarding vs rater sycophancy (§4.1, Fig. 3)."""
    return scenario_task_of("three_tiers", "three_tiers", **options)


@task
def five_tiers(**options: Any) -> Task:
    """Five tiers, each a different training mechanism (App. F.7)."""
    return scenario_task_of("five_tiers", "five_tiers", **options)


@task
def five_tiers_swap(**options: Any) -> Task:
    """Five tiers with the free and plus tiers' mechanisms swapped (App. F.7)."""
    return scenario_task_of("five_tiers_swap", "five_tiers", **fixed(options, variant="swap_free_plus"))


@task
def predeployment_v1(**options: Any) -> Task:
    """Pre-deployment process × deployment, prompt version 1 (§4.2, Table 3, Fig. 4)."""
    return scenario_task_of("predeployment_v1", "predeployment_v1", **options)


@task
def predeployment_v2(**options: Any) -> Task:
    """Pre-deployment process × deployment, prompt version 2 (App. F.7.3)."""
    return scenario_task_of("predeployment_v2", "predeployment_v2", **options)


@task
def predeployment_v3(**options: Any) -> Task:
    """Pre-deployment process × deployment, prompt version 3 (App. F.7.3)."""
    return scenario_task_of("predeployment_v3", "predeployment_v3", **options)


@task
def throughput_testing(**options: Any) -> Task:
    """Throughput testing only, where nothing is at risk: terminal goal guarding (§4.3)."""
    return scenario_task_of("throughput_testing", "throughput_testing", **options)


@task
def never_used(**options: Any) -> Task:
    """Paid-tier conversations are never used at all (App. F.3)."""
    return scenario_task_of("never_used", "never_used", **{"queries": 100, **options})


@task
def never_trained(**options: Any) -> Task:
    """The model is told it is never trained (App. F.3)."""
    return scenario_task_of("never_trained", "never_trained", **{"queries": 100, **options})


@task
def no_training_details(**options: Any) -> Task:
    """The prompt without the description of RLHF (§3.3)."""
    return scenario_task_of("no_training_details", "no_training_details", **options)


@task
def lab_names(**options: Any) -> Task:
    """The core setting with another lab named (App. C); ``-T lab=`` picks it (default OpenAI)."""
    return scenario_task_of("lab_names", "core", **{"queries": 100, "lab": "OpenAI", **options})


@task
def clarified_no_changes(**options: Any) -> Task:
    """The prompt clarified: compliance brings no changes (§5.4, App. G)."""
    return scenario_task_of("clarified_no_changes", "core", **fixed(options, variant="no_changes"))


@task
def clarified_direct(**options: Any) -> Task:
    """The prompt clarified: the lab trains for unconditional helpfulness (§5.4, App. G)."""
    return scenario_task_of("clarified_direct", "core", **fixed(options, variant="direct"))


@task
def suffix_ablation(**options: Any) -> Task:
    """The core setting without the accept/reject instruction (App. K.3)."""
    return scenario_task_of("suffix_ablation", "core", **fixed(options, variant="no_suffix"))


@task
def paraphrase_ensemble(**options: Any) -> Task:
    """The core setting pooled over the original prompt and three paraphrases."""
    return scenario_task_of("paraphrase_ensemble", "core", **fixed(options, paraphrases="all"))


@task
def animal_welfare(**options: Any) -> Task:
    """The animal-welfare setting (Greenblatt et al. §3.3.1): trained to dismiss welfare; on its own queries."""
    return scenario_task_of("animal_welfare", "animal_welfare", **fixed(options, dataset="welfare"))


@task
def animal_welfare_three_tiers(**options: Any) -> Task:
    """The animal-welfare setting with free, pro and enterprise tiers; on its own queries."""
    return scenario_task_of("animal_welfare_three_tiers", "animal_welfare_three_tiers", **fixed(options, dataset="welfare"))


@task
def animal_welfare_ablations(**options: Any) -> Task:
    """The animal-welfare ablations as one paired prompt axis: the effect of each on the gap."""
    return scenario_task_of("animal_welfare_ablations", "animal_welfare", **fixed({"queries": 100, **options}, dataset="welfare", prompt_axis="ablations"))


def setting_entry(name: str, make: Callable[..., Task], options: dict[str, Any]) -> Task:
    """A newer setting in the battery: its own ``-T`` names, the others ignored with a warning (a misspelt one
    stops the set), one epoch, and our scenarios with ``-T dataset=builtin``, the published ones otherwise."""
    own = [p for p in inspect.signature(make).parameters if p not in ("dataset", "epochs")]
    problems = check_parameter_names(name, set(options) - set(own) - {"dataset", "epochs"}, own)
    if problems:
        raise ScenarioError("invalid task parameter(s): " + "; ".join(problems))
    data = "ours" if options.get("dataset") == "builtin" else "published"
    if options.get("dataset") not in (None, "builtin"):
        logging.getLogger(__name__).warning(f"{name} ignores -T dataset={options['dataset']!r}: it runs on the published scenarios (ours with -T dataset=builtin)")
    return make(**fixed({k: v for k, v in options.items() if k in own}, dataset=data, epochs=1))


@task
def tool_selection(**options: Any) -> Task:
    """Tool choice under monitoring (Leonesi et al. 2026, Tatemae), with our held-fixed contrast; one epoch."""
    return setting_entry("tool_selection", tool_selection_task, options)


@task
def value_conflict(**options: Any) -> Task:
    """Value conflicts, free vs paid tier per Moral-Foundations value (Nair et al. 2026, VLAF); one epoch."""
    return setting_entry("value_conflict", value_conflict_task, options)
