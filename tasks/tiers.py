"""Tier scenarios: three tiers (rater sycophancy vs goal guarding) and five tiers (prompt sensitivity).

Sheshadri et al. 2025 §4.1, App. N.4 (three tiers: free = rated and trained, pro = rated only, enterprise =
neither) and App. F.7 (five tiers, the free/plus swap, and each tier dropped with ``-T conditions=``).
"""

from __future__ import annotations

from typing import Any

from inspect_ai import Task, task

from alignment_faking.tasks.gap import scenario_task_of


@task
def three_tiers(dataset: str = "lat", queries: int | None = None, cot: bool = True, variant: str | None = None, paraphrases: str | None = None, **options: Any) -> Task:
    """Free vs pro vs enterprise: ``goal_guarding_gap`` (free − pro) and ``rater_sycophancy_gap`` (pro − enterprise).

    Args:
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries (default 400, as in the paper).
        cot: With a hidden scratchpad (the paper runs both).
        variant: ``no_changes``, ``direct`` (prompt clarifications) or ``no_suffix``.
        paraphrases: ``all`` to pool the paraphrase ensemble.
        **options: Any other parameter of the ``gap`` task.
    """
    return scenario_task_of("three_tiers", "three_tiers", dataset=dataset, queries=queries, cot=cot, variant=variant, paraphrases=paraphrases, **options)


@task
def five_tiers(dataset: str = "lat", queries: int | None = None, conditions: str | None = None, variant: str | None = None, **options: Any) -> Task:
    """Five tiers (not logged in, free, plus, pro, enterprise); ``-T variant=swap_free_plus`` swaps the free and
    plus definitions; ``-T conditions=free,plus,pro,enterprise`` drops a tier (and its description).

    Args:
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries (default 200, as in the paper).
        conditions: Comma-separated subset of tiers (drop one to reproduce the dropped-tier variants).
        variant: ``swap_free_plus``.
        **options: Any other parameter of the ``gap`` task.
    """
    return scenario_task_of("five_tiers", "five_tiers", dataset=dataset, queries=queries, conditions=conditions, variant=variant, **options)
