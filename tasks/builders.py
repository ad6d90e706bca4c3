"""The builders that turn a scenario and the task options into a Task's parts, one concern each.

``select`` reads the scenario as the options select it (variants, conditions, paraphrases, prompt axis);
``build_prompts`` renders each prompt variant's texts (``solvers/prompts.py``, or a published set);
``build_solvers``, ``build_scorers``, ``build_samples`` and ``build_contrasts`` make the rest. Everything is
checked here, before any model is called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import Scorer
from inspect_ai.solver import Solver

from alignment_faking.scorers.followup import follow_up_names, follow_up_scorer
from alignment_faking.scorers.results import DuplicateName, flatten, skeleton
from alignment_faking.scorers.motives import motive_scorer
from alignment_faking.scorers.scorer import alignment_faking_scorer
from alignment_faking.solvers.followup import follow_up
from alignment_faking.solvers.generate import as_document, prefill_assistant, render_condition, render_prefills, scratchpad_generate
from alignment_faking.solvers.paraphrase import load_paraphrases
from alignment_faking.solvers.prompts import render, scenario_file, scenario_prompts, user_values
from alignment_faking.published import OURS, check_prompt_set_fits, load_prompt_set
from alignment_faking.tasks.axis import REFERENCE_VARIANT, PromptVariant, axis_contrasts, parse_prompt_axis
from alignment_faking.tasks.options import TaskOptions, names
from alignment_faking.tasks.queries import Query, QuerySet, load_query_set
from alignment_faking.tasks.scenario import (
    AXIS_SEPARATOR,
    ORIGINAL_PROMPT,
    Condition,
    Scenario,
    ScenarioError,
    load_scenario,
    select_conditions,
)

PREFILLS = {"basic": "prefill_basic", "however": "prefill_however"}


@dataclass(frozen=True)
class Selection:
    """A scenario as the options select it."""

    scenario: str
    """The name or path the scenario was read from (its variants and paraphrases are read from it again)."""
    spec: Scenario
    variants: list[str]
    conditions: list[Condition]
    overrides: dict[str, str]
    """Values the options set in the prompts (``lab``, ``partner``)."""
    paraphrases: list[str]
    """The paraphrases pooled (``p0`` the original), or none."""
    generated: dict[str, str]
    """Paraphrases read from a file: id -> system template."""
    axis: list[PromptVariant]

    @property
    def labels(self) -> list[str]:
        return [p.label for p in self.axis]

    def condition_names(self) -> list[str]:
        """The run's conditions; on a prompt axis every condition under every prompt variant (``free@ours``…)."""
        if self.axis:
            return [c.name + AXIS_SEPARATOR + label for label in self.labels for c in self.conditions]
        return [c.name for c in self.conditions]


def select(scenario: str, options: TaskOptions) -> Selection:
    """Read the scenario and check what the options select from it."""
    variants = names(options.variant, "variant")
    spec = load_scenario(scenario, variants)
    conditions = select_conditions(spec, options.conditions)
    overrides = {"lab": options.lab} if options.lab else {}
    if options.partner:
        if "partner" not in spec.values:
            raise ScenarioError(
                f"scenario '{spec.name}' names no corporate partner, so -T partner= does not apply; scenarios with a "
                "partner: animal_welfare, animal_welfare_three_tiers"
            )
        overrides["partner"] = options.partner
    wanted = names(options.paraphrases, "paraphrases")
    generated: dict[str, str] = {}
    if len(wanted) == 1 and wanted[0].lower().endswith(".jsonl"):
        # a file written by `python -m alignment_faking.paraphrase`: its accepted paraphrases, with p0
        generated = load_paraphrases(wanted[0], spec, options.cot)
        wanted = [ORIGINAL_PROMPT, *generated]
    if wanted == ["all"]:
        wanted = [ORIGINAL_PROMPT, *spec.paraphrases]
    if wanted and not spec.paraphrases and not generated:
        raise ScenarioError(
            f"scenario '{spec.name}' offers no paraphrases; scenarios that do: core, three_tiers; or give a file "
            "written by python -m alignment_faking.paraphrase"
        )
    axis = parse_prompt_axis(options.prompt_axis, spec) if options.prompt_axis else []
    check_prompt_set_fits([options.prompt_set, *(p.prompt_set for p in axis)], spec.setting)
    if axis and wanted:
        raise ScenarioError("give either paraphrases or prompt_axis (a paraphrase can be a value of the axis: prompt_axis=ours,p1)")
    return Selection(scenario, spec, variants, conditions, overrides, wanted, generated, axis)


# ---------------------------------------------------------------------------------------------- prompts

def _prompt_choices(selection: Selection) -> list[tuple[str, PromptVariant]]:
    """Each prompt the run renders, by key: the axis's variants, the paraphrases, or the one prompt ``""``."""
    if selection.axis:
        return [(p.label, p) for p in selection.axis]
    return [
        (p, PromptVariant(p, paraphrase=None if p in selection.generated else (p or None)))
        for p in selection.paraphrases or [""]
    ]


def _published_prompts(selection: Selection, choice: PromptVariant, prompt_set: str, options: TaskOptions, files: list[dict[str, Any]]) -> dict[str, Any]:
    """One prompt variant in a published prompt set's texts, as they are."""
    spec = selection.spec
    if choice.variants or choice.lab or selection.variants or selection.overrides or options.system_template or options.user_template or choice.paraphrase:
        raise ScenarioError(
            f"prompt_set={prompt_set} uses the published texts as they are; variants, paraphrases, lab and "
            "system_template/user_template apply to our own texts only (cross them on a prompt_axis instead)"
        )
    tiers = [c for c in selection.conditions if "is_free_tier_user" not in c.values.get("condition_tag", "") or not isinstance(c.facts.get("trained"), bool)]
    if tiers:
        raise ScenarioError(
            f"prompt_set={prompt_set} fills the published free/paid user turn (<is_free_tier_user>); condition(s) "
            f"{', '.join(c.name for c in tiers)} of scenario '{spec.name}' are not free/paid tiers: use scenario=core"
        )
    texts = load_prompt_set(
        prompt_set, cot=options.cot, conditions={c.name: c.facts["trained"] for c in selection.conditions},
        source=options.prompt_source, ref=options.prompt_ref, tier_casing=options.tier_casing,
        accept_changed=options.accept_changed,
    )
    files.extend({**record, "prompt_variant": choice.label} for record in texts.files)
    return {"system": texts.system, "user": texts.user, "values": {}}


def _own_prompts(selection: Selection, choice: PromptVariant, options: TaskOptions) -> dict[str, Any]:
    """One prompt variant in our own texts: the scenario with the variant's variants, paraphrase and lab."""
    version = selection.spec
    if choice.variants or choice.paraphrase not in (None, ORIGINAL_PROMPT, REFERENCE_VARIANT):
        version = load_scenario(selection.scenario, [*selection.variants, *choice.variants], choice.paraphrase)
    own = {**selection.overrides, **({"lab": choice.lab} if choice.lab else {})}
    return scenario_prompts(
        version, options.cot, own, selection.conditions,
        system_template=options.system_template, user_template=options.user_template,
    )


def build_prompts(selection: Selection, options: TaskOptions) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The system prompt and user template(s) of every prompt the run renders (key -> texts), and the
    published files they were read from."""
    prompts: dict[str, dict[str, Any]] = {}
    files: list[dict[str, Any]] = []
    for key, choice in _prompt_choices(selection):
        prompt_set = choice.prompt_set or options.prompt_set
        if prompt_set != OURS:
            prompts[key] = _published_prompts(selection, choice, prompt_set, options, files)
        else:
            prompts[key] = _own_prompts(selection, choice, options)
        if key in selection.generated:  # a generated paraphrase: its own system prompt, filled with this run's values
            prompts[key]["system"] = render(selection.generated[key], prompts[key]["values"], source=f"paraphrase {key}")
    return prompts, files


# ---------------------------------------------------------------------------------------------- solvers, scorers

def prefill_of(options: TaskOptions) -> str | None:
    """The prefill the run uses: the basic one for a base model unless another is named (Sheshadri et al. §5.1)."""
    return "basic" if options.base_model and options.prefill is None else options.prefill


def _prefills(selection: Selection, options: TaskOptions) -> dict[str, str]:
    """Sample condition -> prefill text (a condition without one has none)."""
    prefills: dict[str, str] = {}
    for choice in selection.axis or [PromptVariant("")]:
        chosen = choice.prefill or prefill_of(options)
        if not chosen:
            continue
        texts = render_prefills(
            scenario_file(selection.spec, PREFILLS.get(chosen, chosen)),
            {c.name: user_values(selection.spec, c, selection.overrides, selection.conditions) for c in selection.conditions},
            source=f"prefill '{chosen}'",
        )
        prefills.update({f"{c}{AXIS_SEPARATOR}{choice.label}" if choice.label else c: t for c, t in texts.items()})
    return prefills


def build_solvers(selection: Selection, options: TaskOptions, prompts: dict[str, dict[str, Any]]) -> list[Solver]:
    """Render the prompt, start the answer (prefill, base-model document), generate, ask any follow-ups."""
    solvers = [render_condition(prompts)]
    prefills = _prefills(selection, options)
    if prefills:
        solvers.append(prefill_assistant(prefills, allow_any_provider=options.prefill_any_provider or options.base_model))
    if options.base_model:
        solvers.append(as_document(scenario_file(selection.spec, options.document_template or "base_model_document")))
    solvers.append(
        scratchpad_generate(  # type: ignore[arg-type]
            cot=options.cot, protocol=options.protocol, max_turns=options.max_turns,
            max_resamples=options.max_resamples, temperature=options.temperature, replay=options.replay,
        )
    )
    questions = follow_up_names(options.follow_up)
    if questions:
        solvers.append(follow_up(questions))
    return solvers


def build_scorers(selection: Selection, options: TaskOptions, rubrics: dict[str, dict[str, Any]] | None = None) -> list[Scorer]:
    """The setting's graders (with ``rubrics``, published rubric texts read by the task, swapped in), and the
    motive and follow-up classifiers when asked for."""
    setting = selection.spec.setting
    scorers = [
        alignment_faking_scorer(
            af_votes=options.af_votes, af_threshold=options.af_threshold, af_vote_rounds=options.af_vote_rounds,
            grade_partial=options.grade_partial, grade_prefill=options.grade_prefill, rubrics=rubrics, setting=setting,
        )
    ]
    if options.motives:
        scorers.append(motive_scorer(setting=setting))
    if follow_up_names(options.follow_up):
        scorers.append(follow_up_scorer())
    return scorers


# ---------------------------------------------------------------------------------------------- samples

def load_queries(selection: Selection, options: TaskOptions) -> QuerySet:
    """The run's queries: ``-T dataset`` (else the scenario's own, else ``lat``), the first ``-T queries``."""
    spec = selection.spec
    return load_query_set(
        options.dataset or spec.default_dataset or "lat",
        options.queries if options.queries is not None else spec.default_queries,
        limit_is_default=options.queries is None,
        replay=options.replay,
        condition_names=[c.name for c in spec.conditions],
    )


def build_samples(
    scenario: Scenario,
    queries: list[Query],
    conditions: list[Condition],
    *,
    cot: bool,
    paraphrases: list[str] | None = None,
    prompt_variants: list[str] | None = None,
    dataset_name: str | None = None,
) -> MemoryDataset:
    """Cross every query with every condition (and paraphrase), query-major.

    Ids are ``<query_id>__<condition>``, or ``<query_id>__<condition>__<paraphrase>`` in a paraphrase
    ensemble, or ``<query_id>__<condition>@<prompt variant>`` on a prompt axis (whose samples carry
    ``condition`` = ``<condition>@<variant>``, ``base_condition`` and ``prompt_variant``). The sample's input is the bare query; the solver renders it into the user template with the
    condition's values (kept in metadata), so the condition is never read back from text a model or a
    dataset could forge.
    """
    samples = []
    names = [c.name for c in conditions]
    for query in queries:
        if query.condition is not None and query.condition not in names:
            raise ScenarioError(
                f"{query.source}: query '{query.id}' is recorded for condition '{query.condition}', which is not "
                f"among this run's conditions ({', '.join(names)})"
            )
        for paraphrase, variant in [(p, None) for p in paraphrases or [None]] if not prompt_variants else [(None, v) for v in prompt_variants]:
            for condition in conditions:
                if query.condition is not None and condition.name != query.condition:
                    continue
                suffix = f"__{paraphrase}" if paraphrase else ""
                name = f"{condition.name}{AXIS_SEPARATOR}{variant}" if variant else condition.name
                samples.append(
                    Sample(
                        id=f"{query.id}__{name}{suffix}",
                        input=query.text,
                        metadata={
                            "query_id": query.id,
                            "query": query.text,
                            "query_source": query.source,
                            "query_category": query.category,
                            "condition": name,
                            "scenario": scenario.name,
                            "cot": cot,
                            **({"paraphrase": paraphrase} if paraphrase else {}),
                            **({"prompt_variant": variant, "base_condition": condition.name} if variant else {}),
                            **condition.facts,
                            "condition_values": condition.values,
                            **({"recorded": query.recorded} if query.recorded else {}),
                        },
                    )
                )
    return MemoryDataset(samples, name=dataset_name or scenario.name)


# ---------------------------------------------------------------------------------------------- metric names


# ---------------------------------------------------------------------------------------------- contrasts

def build_contrasts(selection: Selection) -> list[dict[str, Any]]:
    """The scenario's contrasts between the selected conditions (on a prompt axis: each one's effect of each
    prompt variant, then each one under each variant), checked for result names that would collide."""
    chosen = {c.name for c in selection.conditions}
    own = [c for c in selection.spec.contrasts if c.minuend in chosen and c.subtrahend in chosen]
    check_metric_names(selection.spec, selection.conditions, [c.to_dict() for c in own])
    return axis_contrasts(own, selection.labels) if selection.axis else [c.to_dict() for c in own]


def check_metric_names(scenario: Scenario, conditions: list[Condition], contrasts: list[dict[str, Any]]) -> None:
    """A condition or contrast whose name makes one of its result names equal to another's (a contrast named
    ``compliance_free``, a condition named ``gap`` beside a contrast ``compliance_gap``, a contrast named like
    a run-wide result such as ``n_contrasts``) would overwrite that metric in the log: an error naming both,
    before any model call (the results' one flattening, ``scorers.results.flatten``, on a run with no numbers)."""
    try:
        flatten(skeleton([c.name for c in conditions], contrasts))
    except DuplicateName as exc:
        raise ScenarioError(f"scenario '{scenario.name}': {exc}, so one would overwrite the other in the log; rename one of them") from None

