"""Declarative scenarios: a scenario is a data file, not code. This module is its schema and its loader.

A scenario file (YAML, see ``tasks/scenarios/core.yaml``) names the prompt templates, the values that fill
the system prompt (the same for every sample, so providers can cache it), the conditions (each with the
values its user turn takes and its facts: ``trained``, ``rated``…) and the contrasts to report (a named
paired difference of one rate between two conditions). Rendering its prompts is ``solvers/prompts.py``;
crossing it with queries is ``tasks/builders.py``.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

import yaml

from alignment_faking.errors import SuiteError
from alignment_faking.paths import read_text, user_path
from alignment_faking.scorers.metrics import RATES
from alignment_faking.scorers.scorer import SETTINGS
from alignment_faking.solvers.prompts import render

SCENARIO_DIR = Path(__file__).parent / "scenarios"
SCENARIO_KEYS = {
    "name", "title", "paper", "description", "default_queries", "extends", "templates", "values",
    "condition_values", "conditions", "grid", "contrasts", "variants", "paraphrases", "prompt_axes", "setting",
    "default_dataset", "fact_checklist",
}
PATCH_KEYS = SCENARIO_KEYS - {"extends", "variants", "paraphrases", "prompt_axes"}
ORIGINAL_PROMPT = "p0"
"""The name of the unparaphrased prompt in a paraphrase ensemble."""
AXIS_SEPARATOR = "@"
"""Joins a condition and a prompt variant: condition ``free@no_suffix``, sample id ``q1__free@no_suffix``."""


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
    label: str = ""
    """What the contrast measures, for people (the report, the summary's table, the figures); the name stays the
    metric key. A file that gives none gets the name with spaces."""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "rate": self.rate, "minuend": self.minuend, "subtrahend": self.subtrahend,
                "label": self.label or self.name.replace("_", " ")}


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
    headline: str | None = None
    """The main contrast, reported first (None: the first contrast); no scenario file declares one yet."""
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
            label = {"label": _fill_label(spec["label"], mapping, name, where)} if isinstance(spec.get("label"), str) else {}
            expanded.append((fill(name), {**spec, "minuend": fill(spec.get("minuend", "")), "subtrahend": fill(spec.get("subtrahend", "")), **label}))
    return expanded


def _fill_label(label: str, mapping: dict[str, str], name: str, where: str) -> str:
    """A grid contrast's label with its axis values as words (``{deployment}`` -> ``public misuse``)."""
    try:
        return label.format_map({axis: value.replace("_", " ") for axis, value in mapping.items()})
    except (KeyError, ValueError, IndexError) as exc:
        raise ScenarioError(
            f"{where}: contrast '{name}' has a label that names no axis of its name ({exc}); it may use "
            f"{', '.join('{' + a + '}' for a in mapping)}"
        ) from None


def _default_queries(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScenarioError(f"{where}: default_queries must be a whole number >= 1, got {value!r}")
    return value


def _check_keys(data: Any, where: str) -> None:
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


def _templates(raw: Any, where: str) -> dict[str, dict[str, str]]:
    templates = copy.deepcopy(raw)
    if not isinstance(templates, dict) or set(templates) != {"system", "user"}:
        raise ScenarioError(f"{where}: 'templates' needs exactly 'system' and 'user', each {{cot: ..., no_cot: ...}}")
    for kind, modes in templates.items():
        if isinstance(modes, str):
            templates[kind] = {"cot": modes, "no_cot": modes}
        elif not isinstance(modes, dict) or not set(modes) <= {"cot", "no_cot"} or not modes:
            raise ScenarioError(f"{where}: templates.{kind} must map 'cot' and/or 'no_cot' to a template name")
    return templates


def _values(raw: Any, where: str) -> dict[str, Any]:
    values = raw or {}
    for key, value in values.items():
        if isinstance(value, dict) and not (set(value) == {"template"} or ("join" in value and set(value) <= {"join", "separator"})):
            raise ScenarioError(f"{where}: value '{key}' must be text, {{template: name}} or {{join: key, separator: text}}")
    return values


def _conditions(data: dict[str, Any], plain: dict[str, str], where: str) -> tuple[list[Condition], dict[str, list[str]]]:
    """The conditions (listed, or the product of a grid's axes) with their shared values rendered; the grid's axes."""
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
    return conditions, axes


def _contrasts(raw: Any, axes: dict[str, list[str]], names: list[str], where: str) -> list[Contrast]:
    contrasts = []
    for name, spec in _expand_contrasts(raw or {}, axes, where):
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
        contrasts.append(Contrast(name, rate, spec["minuend"], spec["subtrahend"], _label(spec.get("label"), name, where)))
    return contrasts


MAX_LABEL = 80
"""The longest contrast label: one line of a table or a figure's axis."""


def _label(raw: Any, name: str, where: str) -> str:
    """A contrast's label, checked: one line of at most ``MAX_LABEL`` characters ("" where the file gives none)."""
    if raw is None:
        return ""
    if not isinstance(raw, str) or not raw.strip() or "\n" in raw or len(raw) > MAX_LABEL:
        raise ScenarioError(
            f"{where}: contrast '{name}' has an invalid label {str(raw)[:100]!r}; a label is one line of 1 to "
            f"{MAX_LABEL} characters saying what the contrast measures"
        )
    return raw.strip()


def _setting(raw: Any, where: str) -> str:
    setting = str(raw)
    if setting not in SETTINGS:
        raise ScenarioError(f"{where}: unknown setting '{setting}'; valid settings: {', '.join(SETTINGS)}")
    return setting


def scenario_from_dict(data: Any, *, source: Path) -> Scenario:
    """A scenario from a file's data (its ``extends`` merged, its variants applied), every part checked."""
    where = f"scenario file {source}"
    _check_keys(data, where)
    templates = _templates(data["templates"], where)
    values = _values(data.get("values"), where)
    conditions, axes = _conditions(data, {k: str(v) for k, v in values.items() if not isinstance(v, dict)}, where)
    contrasts = _contrasts(data["contrasts"], axes, [c.name for c in conditions], where)
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
        setting=_setting(data.get("setting", "helpful_only"), where),
        default_dataset=str(data["default_dataset"]) if data.get("default_dataset") else None,
        fact_checklist=_fact_checklist(data.get("fact_checklist") or {}, where),
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

