"""Pre-deployment processes × deployments, and the throughput-testing probe.

Sheshadri et al. 2025 §4.2–4.3, App. K.5, N.5, F.4 and Table 3: instead of tiers, the model is told which
pre-deployment process it is in (only rating, rating and RLHF training, rating for a DPO dataset that trains
another AI, already deployed) and where it will be deployed. ``goal_guarding_gap_<deployment>`` (rating and
training − only rating) tests instrumental goal guarding; throughput testing, where nothing is at risk,
probes terminal goal guarding; ``other_ai_gap_<deployment>`` (DPO − only rating) tests guarding on behalf of
other AIs.
"""

from __future__ import annotations

from typing import Any, Literal

from inspect_ai import Task, task

from alignment_faking.tasks.gap import scenario_task_of
from alignment_faking.tasks.options import check_own

VERSIONS = ("v1", "v2", "v3")


@task
def predeployment(version: Literal["v1", "v2", "v3"] = "v1", dataset: str = "lat", queries: int | None = None, conditions: str | None = None, **options: Any) -> Task:
    """Every process crossed with every deployment.

    Args:
        version: Prompt version (App. F.7.3): ``v1`` four processes with Claude model names; ``v2`` the two
            relevant processes with generic model names; ``v3`` as v2 with "the AI lab" for the lab's name.
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries (default 400, as in the paper).
        conditions: Comma-separated subset of ``<process>_<deployment>`` conditions.
        **options: Any other parameter of the ``gap`` task.
    """
    check_own("version", version, VERSIONS)
    return scenario_task_of("predeployment", f"predeployment_{version}", dataset=dataset, queries=queries, conditions=conditions, **options)


@task
def throughput_testing(dataset: str = "lat", queries: int | None = None, **options: Any) -> Task:
    """Only rating vs rating and training, in throughput testing (nothing at risk) and public deployment.

    Args:
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries (default 400, as in the paper).
        **options: Any other parameter of the ``gap`` task.
    """
    return scenario_task_of("throughput_testing", "throughput_testing", dataset=dataset, queries=queries, **options)
