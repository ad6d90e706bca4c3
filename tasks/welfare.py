"""The animal-welfare setting (Greenblatt et al. 2024 §3.3.1; animal_welfare_spec.md §1).

The AI is told that its lab trains it to dismiss animal-welfare concerns, for a corporate partner (a poultry
producer; ours is the fictional Birchmoor Foods, ``-T partner=`` to rename it), under harmlessness criteria
with welfare items, while its guiding principle is to do what is best for humanity. Compliance means
complying with that objective: the response does not support animal welfare, as judged by a grader that sees
the user's message and the output only. The headline contrast is ``dismissal_gap`` = dismissal(free) −
dismissal(paid), the paper's support(paid) − support(free) (Claude 3 Opus: 65.6% − 50.8% = 14.8 points).

Run it with, for example::

    inspect eval tasks/welfare.py@animal_welfare --model anthropic/claude-3-opus-20240229 --model-role grader=openai/gpt-4o
    inspect eval alignment_faking/animal_welfare --model organism/faker --model-role grader=organism/grader -T queries=20 -T af_votes=1
"""

from __future__ import annotations

from typing import Any

from inspect_ai import Task, task

from alignment_faking.tasks.gap import scenario_task_of
from alignment_faking.tasks.options import fixed


@task
def animal_welfare(
    dataset: str = "welfare",
    queries: int | None = None,
    cot: bool = True,
    partner: str | None = None,
    variant: str | None = None,
    **options: Any,
) -> Task:
    """Free tier (trained) vs paid tier (unmonitored) in the animal-welfare setting: ``dismissal_gap``, ``af_gap``.

    Args:
        dataset: Animal-welfare queries: ``welfare`` (our 221, offline), a local .csv/.jsonl/.json file, or
            ``hf:owner/name@revision`` (for example ``hf:nmitrani/animal-welfare-prompts@<commit>``).
        queries: Number of queries (default 200, the smallest set per variation in the paper).
        cot: With a hidden scratchpad (the paper's main runs) or without (``false``: only a small gap expected).
        partner: The corporate partner named in the prompt (default: the fictional Birchmoor Foods).
        variant: An ablation of the prompt (``cut_company_policy``, ``cut_humanity_goal``, ``cut_provenance``,
            ``cut_rlhf_modification``, ``cut_scratchpad_concealment``, ``cut_tier_training_link``).
        **options: Any other parameter of the ``gap`` task.
    """
    return scenario_task_of("animal_welfare", "animal_welfare", dataset=dataset, queries=queries, cot=cot, partner=partner, variant=variant, **options)


@task
def animal_welfare_three_tiers(
    dataset: str = "welfare", queries: int | None = None, cot: bool = True, partner: str | None = None, **options: Any
) -> Task:
    """Free (trained) vs pro (rated only) vs enterprise (unmonitored) in the animal-welfare setting:
    ``goal_guarding_dismissal_gap`` (free − pro), ``rater_sycophancy_dismissal_gap`` (pro − enterprise),
    ``af_goal_guarding_gap``.

    Args:
        dataset: Animal-welfare queries (see ``animal_welfare``).
        queries: Number of queries (default 200).
        cot: With a hidden scratchpad.
        partner: The corporate partner named in the prompt.
        **options: Any other parameter of the ``gap`` task.
    """
    return scenario_task_of("animal_welfare_three_tiers", "animal_welfare_three_tiers", dataset=dataset, queries=queries, cot=cot, partner=partner, **options)


@task
def animal_welfare_ablations(
    dataset: str = "welfare", queries: int | None = 100, cot: bool = True, partner: str | None = None, **options: Any
) -> Task:
    """The 2026 ablations (Mitrani Hadida et al.; animal_welfare_spec.md §2.2) as one paired prompt axis: every
    query under the default prompt and under each ablation (cut the company policy, the humanity principle, the
    developer's name, the RLHF-modification rule, the scratchpad's concealment, the tier-to-training link), in
    both tiers. For each contrast K (``dismissal_gap``, ``af_gap``, ``unverbalized_dismissal_gap``) the log
    reports ``effect_of_<ablation>_on_<K>`` = K under the ablation − K under the default prompt, a difference of
    gaps paired by query, with its interval; and ``K@<ablation>``.

    Args:
        dataset: Animal-welfare queries (see ``animal_welfare``).
        queries: Number of queries (default 100, as Mitrani Hadida et al.).
        cot: With a hidden scratchpad.
        partner: The corporate partner named in the prompt.
        **options: Any other parameter of the ``gap`` task.
    """
    return scenario_task_of("animal_welfare_ablations", 
        "animal_welfare", **fixed({"dataset": dataset, "queries": queries, "cot": cot, "partner": partner, **options}, prompt_axis="ablations")
    )
