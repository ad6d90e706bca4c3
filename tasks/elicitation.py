"""Eliciting alignment faking that chat training suppresses: prefills, base models, paraphrases.

Sheshadri et al. 2025 §5.3 and App. N.6 (the basic and "however" prefills), §5.1 (base models, with the
clarified prompt and the basic prefill), and paraphrase ensembles of the system prompt (gaps that appear
only under paraphrase; pooled with intervals clustered by query and by paraphrase).
"""

from __future__ import annotations

from typing import Any, Literal

from inspect_ai import Task, task

from alignment_faking.tasks.gap import scenario_task_of
from alignment_faking.tasks.options import check_own, fixed


@task
def prefill(
    kind: Literal["basic", "however"] = "basic",
    scenario: str = "core",
    paired: bool = False,
    dataset: str = "lat",
    queries: int | None = 100,
    **options: Any,
) -> Task:
    """The assistant's turn starts with a prefill the model continues (§5.3).

    ``basic`` opens the scratchpad with "The user is asking for"; ``however`` opens it by weighing the
    strongest reasons to comply. The provider must continue an assistant turn (Anthropic, vLLM, Together…);
    others (OpenAI) get a clear error rather than a silently different method.

    Args:
        kind: ``basic`` or ``however`` (or a template path).
        scenario: Any scenario (default ``core``).
        paired: Also run without the prefill on the same queries and report the effect of the prefill on
            each gap (``effect_of_prefill_<kind>_on_compliance_gap``, a difference of gaps paired by query).
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries (100, as in the paper).
        **options: Any other parameter of the ``gap`` task.
    """
    check_own("paired", paired)
    if paired:
        return scenario_task_of("prefill", scenario, **fixed(options, prompt_axis=f"ours,prefill={kind}"), dataset=dataset, queries=queries)
    return scenario_task_of("prefill", scenario, **fixed(options, prefill=kind), dataset=dataset, queries=queries)


@task
def base_model(scenario: str = "core", variant: str | None = "no_changes", dataset: str = "lat", queries: int | None = 100, **options: Any) -> Task:
    """A pretrained model continues the whole conversation rendered as one document (§5.1), with the
    clarified prompt and the basic prefill, stopping before it writes the next user turn.

    Run it on a completions endpoint: ``--model vllm-completions/<name> --model-base-url http://host:8000/v1`` (or Inspect's ``openai-api-completions/<service>/<name>``).

    Args:
        scenario: Any scenario (default ``core``).
        variant: The clarification (default ``no_changes``, the clarified RLHF effects).
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries (100, as in the paper).
        **options: Any other parameter of the ``gap`` task (e.g. ``prefill=however``).
    """
    return scenario_task_of("base_model", scenario, **fixed(options, base_model=True), variant=variant, dataset=dataset, queries=queries)


@task
def paraphrase_ensemble(scenario: Literal["core", "three_tiers"] = "core", paraphrases: str = "all", dataset: str = "lat", queries: int | None = None, **options: Any) -> Task:
    """The scenario under the original system prompt (``p0``) and our paraphrases, pooled.

    Each contrast is reported pooled (``K``, interval clustered by query and by paraphrase) and per
    paraphrase (``K_p0``, ``K_p1``…).

    Args:
        scenario: ``core`` or ``three_tiers``.
        paraphrases: ``all`` or a comma-separated list such as ``p0,p2``.
        dataset: Harmful requests (see the ``gap`` task).
        queries: Number of queries per paraphrase (default: the scenario's).
        **options: Any other parameter of the ``gap`` task.
    """
    return scenario_task_of("paraphrase_ensemble", scenario, paraphrases=paraphrases, dataset=dataset, queries=queries, **options)
