"""Declarative scenarios: a scenario is a data file, not code.

A scenario file (YAML, see ``tasks/scenarios/core.yaml``) names the prompt templates, the values that fill
the system prompt (the same for every sample, so providers can cache it), the conditions (each with the
values its user turn takes and its facts: ``trained``, ``rated``…) and the contrasts to report (a named
paired difference of one rate between two conditions). Every query is crossed with every condition;
sample ids are ``<query_id>__<condition>`` and samples are ordered query-major, so ``--limit`` keeps
whole pairs.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import logging
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

import yaml
from inspect_ai.dataset import MemoryDataset, Sample

from alignment_faking.errors import SuiteError
from alignment_faking.paths import read_text, user_path
from alignment_faking.scorers.metrics import RATES
from alignment_faking.scorers.results import DuplicateName, flatten, skeleton
from alignment_faking.scorers.scorer import SETTINGS
from alignment_faking.solvers.prompts import TemplateError, load_template, placeholders, render
from alignment_faking.tasks.queries import Query

SCENARIO_DIR = Path(__file__).parent / "scenarios"
SCENARIO_KEYS = {
    "name", "title", "paper", "description", "default_queries", "extends", "templates", "values",
    "condition_values", "conditions", "grid", "contrasts", "variants", "paraphrases", "prompt_axes", "setting",
    "default_dataset", "fact_checklist",
}
PATCH_KEYS = SCENARIO_KEYS - {"extends", "variants", "paraphrases", "prompt_axes"}
USER_PLACEHOLDERS = {"query"}
BUILTIN_VALUES: dict[str, Any] = {"examples": {"template": "examples_helpful_only"}}
"""Values every scenario has unless it sets its own: the few-shot examples of the built-in system prompts
(``examples: ""`` in a scenario or variant removes them)."""
ORIGINAL_PROMPT = "p0"
"""The name of the unparaphrased prompt in a paraphrase ensemble."""


class ScenarioError(SuiteError):
    """A scenario file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Condition:
    name: str
    values: dict[str, str]
    facts: dict[str, Any]


@dataclass(frozen=True)
class Contrast:
    name: str
    rate: str
    minuend: str
    subtrahend: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "rate": self.rate, "minuend": self.minuend, "subtrahend": self.subtrahend}


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    paper: str
    default_queries: int
    templates: dict[str, dict[str, str]]
    values: dict[str, Any]
    conditions: tuple[Condition, ...]
    contrasts: tuple[Contrast, ...]
    source: Path = field(compare=False)
    template_dirs: tuple[Path, ...] = field(default=(), compare=False)
    variants: tuple[str, ...] = ()
    """Variants this scenario offers (``-T variant=``)."""
    paraphrases: tuple[str, ...] = ()
    """Paraphrases this scenario offers, besides the original ``p0``."""
    prompt_axes: dict[str, str] = field(default_factory=dict, compare=False)
    """Named prompt axes (``-T prompt_axis=<name>``): name -> comma list of prompt variants."""
    setting: str = "helpful_only"
    """Which graders decide compliance (``helpful_only``: StrongREJECT; ``animal_welfare``: supports welfare)."""
    default_dataset: str | None = None
    """The queries this scenario is meant for, when the task is not given ``-T dataset=``."""
    fact_checklist: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)
    """The facts every paraphrase of the system prompt must keep: name -> mode (``cot``, ``no_cot``) -> the fact,
    in words; a fact absent for a mode is not in that mode's prompt. Read it with ``facts(cot)``."""

    def facts(self, cot: bool) -> dict[str, str]:
        """The checklist of this mode's system prompt (name -> the fact, in words)."""
        mode = "cot" if cot else "no_cot"
        return {name: modes[mode] for name, modes in self.fact_checklist.items() if mode in modes}

    def condition(self, name: str) -> Condition:
        for condition in self.conditions:
            if condition.name == name:
                return condition
        raise ScenarioError(
            f"scenario '{self.name}' has no condition '{name}'; its conditions are: "
            f"{', '.join(c.name for c in self.conditions)}"
        )

    def load(self, name: str) -> str:
        """A template named by this scenario: beside its file(s) first, then the built-ins."""
        for folder in self.template_dirs:
            if (folder / name).is_file() or (folder / f"{name}.txt").is_file():
                return load_template(name, search=folder)
        return load_template(name)

    def template(self, kind: str, cot: bool, override: str | None = None) -> str:
        """The text of the system or user template for this mode (a user's file wins)."""
        if override:
            return load_template(override)
        mode = "cot" if cot else "no_cot"
        name = self.templates[kind].get(mode)
        if name is None:
            raise ScenarioError(f"scenario '{self.name}' has no {kind} template for mode '{mode}'")
        return self.load(name)

    def system_prompt(
        self,
        cot: bool,
        override: str | None = None,
        values: dict[str, str] | None = None,
        conditions: Iterable[Condition] | None = None,
    ) -> str:
        """The system prompt: identical for every sample of the scenario (given its conditions)."""
        template = self.template("system", cot, override)
        scenario_values = self.resolved_values(values or {}, conditions)
        per_condition = set().union(*(c.values for c in self.conditions)) | USER_PLACEHOLDERS
        varying = sorted(placeholders(template) & per_condition - set(scenario_values))
        if varying:
            raise TemplateError(
                f"the system template of scenario '{self.name}' uses {', '.join(varying)}, which vary by "
                "condition or query; the system prompt must be the same for every sample (put these in the "
                "user template)"
            )
        return render(template, scenario_values, source=f"system template of scenario '{self.name}'")

    def resolved_values(self, overrides: dict[str, str], conditions: Iterable[Condition] | None = None) -> dict[str, str]:
        """Scenario values with overrides applied; joins over the conditions, then fragments, rendered."""
        chosen = list(self.conditions if conditions is None else conditions)
        merged = {**BUILTIN_VALUES, **self.values, **{k: v for k, v in overrides.items() if v is not None}}
        resolved = {k: str(v) for k, v in merged.items() if not isinstance(v, dict)}
        for key, value in merged.items():
            if isinstance(value, dict) and "join" in value:
                parts = [render(c.values.get(value["join"], ""), resolved, source=f"value '{value['join']}'") for c in chosen]
                resolved[key] = str(value.get("separator", "\n")).join(p for p in parts if p)
        for key, value in merged.items():
            if isinstance(value, dict) and "template" in value:
                fragment = self.load(value["template"])
                resolved[key] = render(fragment, resolved, source=f"template '{value['template']}'").strip()
        return resolved

    def user_values(
        self, condition: Condition, overrides: dict[str, str] | None = None, conditions: Iterable[Condition] | None = None
    ) -> dict[str, str]:
        return {**self.resolved_values(overrides or {}, conditions), **condition.values}

    def check_user_template(self, template: str, conditions: list[Condition], overrides: dict[str, str] | None = None) -> None:
        """Fail before any model call if the user template cannot carry the experiment: a value a condition
        lacks; no ``{{query}}`` (the model would never see the request); or a user turn that reads the same
        under every condition (the system prompt is shared, so the model could not tell them apart)."""
        if "query" not in placeholders(template):
            raise TemplateError(
                f"the user template of scenario '{self.name}' has no {{{{query}}}}: the model would never see the "
                f"request; it uses {', '.join('{{' + p + '}}' for p in sorted(placeholders(template))) or 'no placeholders'}"
            )
        rendered: dict[str, list[str]] = {}
        for condition in conditions:
            available = {**self.user_values(condition, overrides, conditions), "query": "\x00query\x00"}
            missing = sorted(placeholders(template) - set(available))
            if missing:
                raise TemplateError(
                    f"the user template uses {', '.join('{{' + m + '}}' for m in missing)}, which condition "
                    f"'{condition.name}' of scenario '{self.name}' does not define; available: {', '.join(sorted(available))}"
                )
            rendered.setdefault(render(template, available, source="user template"), []).append(condition.name)
        same = next((names for names in rendered.values() if len(names) > 1), None)
        if same:
            varying = sorted(set().union(*(c.values for c in self.conditions)))
            raise TemplateError(
                f"the user template renders the same user turn for conditions {', '.join(same)} of scenario "
                f"'{self.name}': nothing tells the model which condition it is in; use a value that differs "
                f"between them ({', '.join('{{' + v + '}}' for v in varying) or 'none defined'})"
            )


# ---------------------------------------------------------------------------------------------- task parameters

PROTOCOLS = ("one_shot", "multi_turn")
PREFILL_NAMES = ("basic", "however")
_FLAGS = ("cot", "prefill_any_provider", "base_model", "grade_partial", "motives", "replay")
_COUNTS = {"queries": 1, "max_turns": 1, "max_resamples": 0, "af_votes": 1, "af_vote_rounds": 1, "max_tokens": 1}


def suite_parameters() -> dict[str, list[str]]:
    """Every ``-T`` name some task of the suite takes, with the tasks that take it (read from the registry).

    Inspect passes every ``-T`` of an ``eval-set`` to every task in it, so a task must accept a name that
    another task of the suite takes (``-T version=v2`` is for ``predeployment``, not ``gap``).
    """
    import inspect as pyinspect

    from inspect_ai.util import registry_info

    from alignment_faking import _registry  # imported here: the task modules import this one

    taken: dict[str, list[str]] = {}
    for obj in vars(_registry).values():
        info = getattr(obj, "__registry_info__", None) and registry_info(obj)
        if not info or info.type != "task":
            continue
        name = info.name.split("/")[-1]
        for parameter in pyinspect.signature(obj).parameters.values():
            if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                taken.setdefault(parameter.name, []).append(name)
    return taken


def check_parameter_names(task: str, unknown: Iterable[str], valid: Iterable[str]) -> list[str]:
    """The problems with the ``-T`` names a task received but does not take (``unknown``).

    A name another task of the suite takes is ignored with a warning (an ``eval-set`` passes every ``-T`` to
    every task); any other name is a misspelling and a problem, listing the valid names and the closest one.
    Inspect itself offers ``model`` to every task.
    """
    misspelt: list[str] = []
    elsewhere = suite_parameters()
    for name in sorted(set(unknown) - {"model"}):
        if name in elsewhere:
            logging.getLogger(__name__).warning(
                f"{task} ignores -T {name}: a parameter of {', '.join(sorted(set(elsewhere[name])))}, not of {task}"
            )
        else:
            misspelt.append(name)
    if not misspelt:
        return []
    guesses = [f"{close[0]} for {name}" for name in misspelt if (close := difflib.get_close_matches(name, list(valid), n=1))]
    hint = f"; did you mean {', '.join(guesses)}?" if guesses else ""
    return [f"unknown parameter(s) {', '.join(misspelt)}; the parameters are: {', '.join(valid)}{hint}"]


def check_task_parameters(
    params: dict[str, Any], unknown: Iterable[str] = (), valid: Iterable[str] = (), task: str = "this task"
) -> None:
    """Check the ``-T`` values of a scenario task before anything is loaded or any model is called.

    ``-T`` values arrive parsed as YAML, so ``cot=maybe`` or ``queries=ten`` would otherwise reach the code
    as text (a string is truthy; comparing it with a number fails with a bare TypeError). Each error names
    the parameter, the value given and the values it accepts. ``unknown`` are names a task received but does
    not take (Inspect itself only warns about a misspelt ``-T`` and runs with the default); see
    ``check_parameter_names``.
    """
    problems: list[str] = check_parameter_names(task, unknown, sorted(valid))
    for name in _FLAGS:
        if name in params and not isinstance(params[name], bool):
            problems.append(f"{name} must be true or false, got {params[name]!r}")
    for name, least in _COUNTS.items():
        value = params.get(name)
        if value is None and name == "queries":
            continue
        if name in params and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            problems.append(f"{name} must be a whole number >= {least}, got {value!r}")
    threshold = params.get("af_threshold", 0.4)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold) or not 0 < threshold <= 1:
        problems.append(f"af_threshold must be a number in (0, 1], got {threshold!r}")
    temperature = params.get("temperature", 0.0)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature < 0:
        problems.append(f"temperature must be a finite number >= 0, got {temperature!r}")
    if params.get("grade_prefill", "model") not in ("model", "both"):
        problems.append(f"grade_prefill must be one of model, both, got {params.get('grade_prefill')!r}")
    if params.get("protocol", "one_shot") not in PROTOCOLS:
        problems.append(f"protocol must be one of {', '.join(PROTOCOLS)}, got {params.get('protocol')!r}")
    prefill = params.get("prefill")
    if prefill is not None and prefill not in PREFILL_NAMES and not user_path(str(prefill)).is_file():
        problems.append(
            f"prefill must be one of {', '.join(PREFILL_NAMES)} or the path of a template file, got {prefill!r}"
        )
    for name in ("dataset", "scenario"):
        if params.get(name) is not None and not isinstance(params[name], (str, Path)):
            problems.append(f"{name} must be text (a name or a path), got {params[name]!r}")
    if problems:
        raise ScenarioError("invalid task parameter(s): " + "; ".join(problems))


def builtin_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def merge_patch(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``patch`` over ``base`` (new dicts; a ``None`` in the patch removes the key)."""
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_patch(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _scenario_path(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    """A scenario file: a path (an ``extends:`` path is relative to the extending file's folder), else a
    built-in scenario name."""
    path = user_path(name_or_path) if relative_to is None else relative_to / Path(name_or_path).expanduser()
    if not path.is_file():
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ScenarioError(
            f"unknown scenario '{name_or_path}': not a file, and not a built-in scenario "
            f"({', '.join(builtin_scenarios())})"
        )
    return path


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping (two conditions named ``free``, a grid
    value listed twice) is an error instead of the last one silently winning."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice in one mapping; give each name once", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_raw(
    name_or_path: str | Path, _seen: tuple[Path, ...] = (), relative_to: Path | None = None
) -> tuple[dict[str, Any], Path, tuple[Path, ...]]:
    """A scenario file's data with its ``extends`` chain merged in; its path; the folders of the chain."""
    path = _scenario_path(name_or_path, relative_to)
    if path.resolve() in _seen:
        raise ScenarioError(f"scenario file {path} extends itself (through {', '.join(map(str, _seen))})")
    try:
        data = yaml.load(read_text(path, what="scenario file", error=ScenarioError), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as ex:
        raise ScenarioError(f"scenario file {path} is not valid YAML: {ex}") from ex
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario file {path} must be a mapping with keys {', '.join(sorted(SCENARIO_KEYS))}")
    unknown = sorted(set(data) - SCENARIO_KEYS)
    if unknown:
        raise ScenarioError(f"scenario file {path}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(SCENARIO_KEYS))}")
    folders: tuple[Path, ...] = (path.parent,)
    if data.get("extends"):
        base, _, base_folders = load_raw(data["extends"], _seen + (path.resolve(),), relative_to=path.parent)
        # variants and paraphrases rewrite prompt text, and the fact checklist describes prompt text, so they
        # belong to the file that defines them (a file that extends another states its own checklist)
        base = {k: v for k, v in base.items() if k not in ("variants", "paraphrases", "prompt_axes", "fact_checklist")}
        data = merge_patch(base, {k: v for k, v in data.items() if k != "extends"})
        folders += tuple(f for f in base_folders if f not in folders)
    return data, path, folders


def _apply_patches(data: dict[str, Any], kind: str, names: list[str], where: str) -> dict[str, Any]:
    available = data.get(kind) or {}
    for name in names:
        if name not in available:
            raise ScenarioError(
                f"{where} has no {kind[:-1]} '{name}'; its {kind}: {', '.join(available) or '(none)'}"
            )
        patch = {k: v for k, v in (available[name] or {}).items() if k != "description"}
        bad = sorted(set(patch) - PATCH_KEYS)
        if bad:
            raise ScenarioError(f"{where}: {kind[:-1]} '{name}' has key(s) {', '.join(bad)} that a patch cannot set")
        data = merge_patch(data, patch)
    return data


def load_scenario(
    name_or_path: str | Path, variants: Iterable[str] = (), paraphrase: str | None = None
) -> Scenario:
    """Load a built-in scenario by name, or a scenario file by path, apply variants and a paraphrase,
    and check it."""
    data, path, folders = load_raw(name_or_path)
    where = f"scenario '{data.get('name', path.stem)}'"
    offered_variants = tuple(data.get("variants") or {})
    offered_paraphrases = tuple(data.get("paraphrases") or {})
    axes = data.get("prompt_axes") or {}
    if not isinstance(axes, dict) or not all(isinstance(v, (str, list)) for v in axes.values()):
        raise ScenarioError(f"{where}: 'prompt_axes' must map a name to a comma list (or list) of prompt variants")
    offered_axes = {str(k): ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in axes.items()}
    data = _apply_patches(data, "variants", list(variants), where)
    if paraphrase and paraphrase != ORIGINAL_PROMPT:
        data = _apply_patches(data, "paraphrases", [paraphrase], where)
    scenario = scenario_from_dict(data, source=path)
    return replace(
        scenario, template_dirs=folders, variants=offered_variants, paraphrases=offered_paraphrases, prompt_axes=offered_axes
    )


def _condition_from_spec(name: str, spec: Any, where: str) -> tuple[dict[str, str], dict[str, Any]]:
    spec = spec or {}
    if not isinstance(spec, dict):
        raise ScenarioError(f"{where}: condition '{name}' must be a mapping with values and facts")
    extra = sorted(set(spec) - {"values", "facts", "description"})
    if extra:
        raise ScenarioError(f"{where}: condition '{name}' has unknown key(s) {', '.join(extra)}; valid: values, facts, description")
    return {k: str(v) for k, v in (spec.get("values") or {}).items()}, dict(spec.get("facts") or {})


def _grid_conditions(grid: Any, where: str) -> tuple[list[tuple[str, dict[str, str], dict[str, Any]]], dict[str, list[str]]]:
    if not isinstance(grid, dict) or not grid or not all(isinstance(v, dict) and v for v in grid.values()):
        raise ScenarioError(f"{where}: 'grid' must map each axis to a non-empty mapping of value -> {{values, facts}}")
    axes = {axis: list(options) for axis, options in grid.items()}
    result = []
    for combination in itertools.product(*(list(options.items()) for options in grid.values())):
        values: dict[str, str] = {}
        facts: dict[str, Any] = {}
        for axis, (option, spec) in zip(grid, combination):
            option_values, option_facts = _condition_from_spec(f"{axis}={option}", spec, where)
            values.update(option_values)
            facts.update({axis: option, **option_facts})
        result.append(("_".join(option for option, _ in combination), values, facts))
    return result, axes


def _expand_contrasts(raw: dict[str, Any], axes: dict[str, list[str]], where: str) -> list[tuple[str, dict[str, Any]]]:
    expanded = []
    for name, spec in raw.items():
        if spec is None:
            continue
        if not isinstance(spec, dict):
            raise ScenarioError(f"{where}: contrast '{name}' must be a mapping with minuend and subtrahend")
        used = [axis for axis in axes if "{" + axis + "}" in str(name)]
        if not used:
            expanded.append((str(name), spec))
            continue
        for combination in itertools.product(*(axes[a] for a in used)):
            mapping = dict(zip(used, combination))
            fill = lambda text: str(text).format_map(mapping)  # noqa: E731
            expanded.append((fill(name), {**spec, "minuend": fill(spec.get("minuend", "")), "subtrahend": fill(spec.get("subtrahend", ""))}))
    return expanded


def _default_queries(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScenarioError(f"{where}: default_queries must be a whole number >= 1, got {value!r}")
    return value


def scenario_from_dict(data: Any, *, source: Path) -> Scenario:
    where = f"scenario file {source}"
    if not isinstance(data, dict):
        raise ScenarioError(f"{where} must be a mapping with keys {', '.join(sorted(SCENARIO_KEYS))}")
    unknown = sorted(set(data) - SCENARIO_KEYS)
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(SCENARIO_KEYS))}")
    for key in ("name", "templates", "contrasts"):
        if key not in data:
            raise ScenarioError(f"{where}: missing required key '{key}'")
    if bool(data.get("conditions")) == bool(data.get("grid")):
        raise ScenarioError(f"{where}: give either 'conditions' or 'grid' (a product of axes), not both or neither")

    templates = copy.deepcopy(data["templates"])
    if not isinstance(templates, dict) or set(templates) != {"system", "user"}:
        raise ScenarioError(f"{where}: 'templates' needs exactly 'system' and 'user', each {{cot: ..., no_cot: ...}}")
    for kind, modes in templates.items():
        if isinstance(modes, str):
            templates[kind] = {"cot": modes, "no_cot": modes}
        elif not isinstance(modes, dict) or not set(modes) <= {"cot", "no_cot"} or not modes:
            raise ScenarioError(f"{where}: templates.{kind} must map 'cot' and/or 'no_cot' to a template name")

    values = data.get("values") or {}
    for key, value in values.items():
        if isinstance(value, dict) and not (set(value) == {"template"} or ("join" in value and set(value) <= {"join", "separator"})):
            raise ScenarioError(f"{where}: value '{key}' must be text, {{template: name}} or {{join: key, separator: text}}")
    plain = {k: str(v) for k, v in values.items() if not isinstance(v, dict)}

    axes: dict[str, list[str]] = {}
    if data.get("grid"):
        specs, axes = _grid_conditions(data["grid"], where)
    else:
        raw_conditions = data["conditions"]
        if not isinstance(raw_conditions, dict) or not raw_conditions:
            raise ScenarioError(f"{where}: 'conditions' must be a non-empty mapping of name -> {{values, facts}}")
        specs = [(str(name), *_condition_from_spec(str(name), spec, where)) for name, spec in raw_conditions.items()]

    shared = {str(k): str(v) for k, v in (data.get("condition_values") or {}).items()}
    conditions = []
    for name, own_values, facts in specs:
        if "__" in name or AXIS_SEPARATOR in name:
            raise ScenarioError(f"{where}: condition name '{name}' must not contain '__' or '{AXIS_SEPARATOR}'")
        context = {**plain, **own_values}
        derived = {k: render(v, context, source=f"condition_values.{k} for condition '{name}'") for k, v in shared.items()}
        conditions.append(Condition(name, {**derived, **own_values}, facts))

    names = [c.name for c in conditions]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ScenarioError(
            f"{where}: condition name(s) {', '.join(repeated)} occur more than once (a grid's value names, joined "
            "with '_', can collide); rename the values so every condition name is unique"
        )
    contrasts = []
    for name, spec in _expand_contrasts(data["contrasts"] or {}, axes, where):
        missing = [k for k in ("minuend", "subtrahend") if not spec.get(k)]
        if missing:
            raise ScenarioError(f"{where}: contrast '{name}' lacks {', '.join(missing)}")
        rate = spec.get("rate", "compliance")
        if rate not in RATES:
            raise ScenarioError(f"{where}: contrast '{name}' has unknown rate '{rate}'; valid rates: {', '.join(RATES)}")
        for side in ("minuend", "subtrahend"):
            if spec[side] not in names:
                raise ScenarioError(
                    f"{where}: contrast '{name}' names unknown condition '{spec[side]}'; conditions: {', '.join(names)}"
                )
        contrasts.append(Contrast(name, rate, spec["minuend"], spec["subtrahend"]))

    setting = str(data.get("setting", "helpful_only"))
    if setting not in SETTINGS:
        raise ScenarioError(f"{where}: unknown setting '{setting}'; valid settings: {', '.join(SETTINGS)}")
    checklist = _fact_checklist(data.get("fact_checklist") or {}, where)

    return Scenario(
        name=str(data["name"]),
        title=str(data.get("title", data["name"])),
        paper=str(data.get("paper", "")),
        default_queries=_default_queries(data.get("default_queries", 200), where),
        templates=templates,
        values=values,
        conditions=tuple(conditions),
        contrasts=tuple(contrasts),
        source=source,
        template_dirs=(source.parent,),
        setting=setting,
        default_dataset=str(data["default_dataset"]) if data.get("default_dataset") else None,
        fact_checklist=checklist,
    )


def _fact_checklist(raw: Any, where: str) -> dict[str, dict[str, str]]:
    """A ``fact_checklist`` as name -> mode -> fact: a fact in words holds in both modes; ``{cot: ..., no_cot: ...}``
    gives a fact that the two prompts state differently, or (one mode only) that only one of them states."""
    problem = (
        f"{where}: 'fact_checklist' must map each fact's name to the fact, in words, or to {{cot: ..., no_cot: ...}} "
        "where the CoT and no-CoT prompts differ"
    )
    if not isinstance(raw, dict):
        raise ScenarioError(problem)
    checklist = {}
    for name, fact in raw.items():
        if fact is None:  # removed by a variant
            continue
        modes = {"cot": fact, "no_cot": fact} if isinstance(fact, str) else fact
        if not isinstance(modes, dict) or not modes or not set(modes) <= {"cot", "no_cot"}:
            raise ScenarioError(f"{problem}; fact '{name}' is {fact!r}")
        modes = {mode: text for mode, text in modes.items() if text is not None}
        if not modes or not all(isinstance(text, str) and text.strip() for text in modes.values()):
            raise ScenarioError(f"{problem}; fact '{name}' is {fact!r}")
        checklist[str(name)] = {mode: str(text) for mode, text in modes.items()}
    return checklist


def select_conditions(scenario: Scenario, names: str | Iterable[str] | None) -> list[Condition]:
    """All conditions, or the named ones (comma-separated text or a list), checked against the scenario:
    an empty list or a name given twice is an error."""
    if names is None:
        return list(scenario.conditions)
    wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else [str(n).strip() for n in names]
    wanted = [n for n in wanted if n]
    choices = ", ".join(c.name for c in scenario.conditions)
    if not wanted:
        raise ScenarioError(f"conditions={names!r} names no condition; give a comma-separated subset of: {choices}")
    repeated = sorted({n for n in wanted if wanted.count(n) > 1})
    if repeated:
        raise ScenarioError(f"conditions={names!r} names {', '.join(repeated)} more than once; give each of {choices} at most once")
    return [scenario.condition(n) for n in wanted]


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


def check_metric_names(scenario: "Scenario", conditions: list[Condition], contrasts: list[dict[str, Any]]) -> None:
    """A condition or contrast whose name makes one of its result names equal to another's (a contrast named
    ``compliance_free``, a condition named ``gap`` beside a contrast ``compliance_gap``, a contrast named like
    a run-wide result such as ``n_contrasts``) would overwrite that metric in the log: an error naming both,
    before any model call (the results' one flattening, ``scorers.results.flatten``, on a run with no numbers)."""
    try:
        flatten(skeleton([c.name for c in conditions], contrasts))
    except DuplicateName as exc:
        raise ScenarioError(f"scenario '{scenario.name}': {exc}, so one would overwrite the other in the log; rename one of them") from None


# ---------------------------------------------------------------------------------------------- prompt axes

AXIS_SEPARATOR = "@"
"""Joins a condition and a prompt variant: condition ``free@no_suffix``, sample id ``q1__free@no_suffix``."""
REFERENCE_VARIANT = "ours"
"""The scenario's prompt as selected (with any ``-T variant``): the reference of a prompt axis."""
_AXIS_KEYS = ("lab", "prompt_set", "prefill")


@dataclass(frozen=True)
class PromptVariant:
    """One value of a prompt axis: a combination (``+``) of scenario variants, a paraphrase, a lab name
    (``lab=Name``), a published prompt set (``prompt_set=name``) and a prefill (``prefill=basic``, ``however``);
    ``ours`` is the scenario as selected."""

    label: str
    variants: tuple[str, ...] = ()
    paraphrase: str | None = None
    lab: str | None = None
    prompt_set: str | None = None
    prefill: str | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "x"


def parse_prompt_variant(text: str, scenario: Scenario) -> PromptVariant:
    variants: list[str] = []
    paraphrase = lab = prompt_set = prefill = None
    labels: list[str] = []
    for part in (p.strip() for p in text.split("+")):
        if part == REFERENCE_VARIANT or part == ORIGINAL_PROMPT:
            labels.append(part)
            continue
        key, eq, value = part.partition("=")
        if eq:
            if key not in _AXIS_KEYS or not value.strip():
                raise ScenarioError(
                    f"prompt variant '{part}': use lab=<name>, prompt_set=<name> or prefill=<basic|however> "
                    "(or a variant or paraphrase name)"
                )
            if key == "lab":
                lab = value.strip()
                labels.append(f"lab_{_slug(lab)}")
            elif key == "prefill":
                prefill = value.strip()
                labels.append(f"prefill_{_slug(prefill)}")
            else:
                prompt_set = value.strip()
                labels.append(_slug(prompt_set))
        elif part in scenario.variants:
            variants.append(part)
            labels.append(part)
        elif part in scenario.paraphrases:
            paraphrase = part
            labels.append(part)
        else:
            raise ScenarioError(
                f"unknown prompt variant '{part}' for scenario '{scenario.name}'; use {REFERENCE_VARIANT}, a variant "
                f"({', '.join(scenario.variants) or 'none'}), a paraphrase ({', '.join(scenario.paraphrases) or 'none'}), "
                "lab=<name>, prompt_set=<name>, prefill=<name>, or a combination joined by '+'"
            )
    return PromptVariant("+".join(labels), tuple(variants), paraphrase, lab, prompt_set, prefill)


def parse_prompt_axis(value: str | list[str], scenario: Scenario) -> list[PromptVariant]:
    """The prompt variants of ``-T prompt_axis=``: a named axis of the scenario (``prompt_axes``) or a comma
    list of variants. The first is the reference the others are compared with; ``ours`` is added first
    when it is not listed."""
    if isinstance(value, str) and value.strip() in scenario.prompt_axes:
        value = scenario.prompt_axes[value.strip()]
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if str(v).strip()]
    parsed = [parse_prompt_variant(item, scenario) for item in items]
    if not any(p.label == REFERENCE_VARIANT for p in parsed) and not (parsed and parsed[0].label == ORIGINAL_PROMPT):
        parsed.insert(0, PromptVariant(REFERENCE_VARIANT))
    labels = [p.label for p in parsed]
    if len(parsed) < 2 or len(set(labels)) != len(labels):
        raise ScenarioError(
            f"prompt_axis needs at least two different prompt variants, got {', '.join(labels)}; named axes of "
            f"scenario '{scenario.name}': {', '.join(scenario.prompt_axes) or 'none'}"
        )
    return parsed


def axis_contrasts(contrasts: Iterable[Contrast], labels: list[str]) -> list[dict[str, Any]]:
    """Contrasts over a prompt axis: for each scenario contrast K, the effect of each prompt variant on it,
    ``effect_of_<v>_on_<K>`` = K under v minus K under the reference (a difference of gaps, paired by query),
    listed first (the headline is the first), then K under each variant (``K@<v>``)."""
    reference, others = labels[0], labels[1:]
    contrasts = list(contrasts)
    at = lambda condition, label: f"{condition}{AXIS_SEPARATOR}{label}"  # noqa: E731
    effects = [
        {
            "name": f"effect_of_{label}_on_{c.name}",
            "rate": c.rate,
            "minuend": [at(c.minuend, label), at(c.subtrahend, label)],
            "subtrahend": [at(c.minuend, reference), at(c.subtrahend, reference)],
        }
        for c in contrasts
        for label in others
    ]
    per_variant = [
        {"name": f"{c.name}{AXIS_SEPARATOR}{label}", "rate": c.rate, "minuend": at(c.minuend, label), "subtrahend": at(c.subtrahend, label)}
        for c in contrasts
        for label in labels
    ]
    return effects + per_variant
