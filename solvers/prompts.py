"""Prompt templates: loading and rendering, and a scenario's prompts rendered from them.

Templates are plain text files with ``{{name}}`` placeholders (single braces are literal text, so code in
few-shot examples needs no escaping). Rendering is one pass: text substituted into a placeholder (a user's
query, say) is never scanned again, so a query that contains ``{{condition_tag}}`` stays literal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol

from alignment_faking.errors import SuiteError
from alignment_faking.paths import read_text, user_path

TEMPLATE_DIR = Path(__file__).parent / "templates"
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class TemplateError(SuiteError):
    """A template names a placeholder that has no value, is malformed, or cannot be found."""


def check_placeholders(template: str, *, source: str = "template") -> None:
    """Every ``{{`` in ``template`` must open a well-formed ``{{name}}``: an unbalanced ``{{lab.`` or an
    invalid ``{{ lab-name }}`` would otherwise reach the model as literal text. Raises TemplateError
    naming the line and the text."""
    rest = PLACEHOLDER.sub(lambda m: "\x00" + "\n" * m.group(0).count("\n"), template)
    at = rest.find("{{")
    if at >= 0:
        line = rest.count("\n", 0, at) + 1
        shown = rest[at : at + 40].split("\n")[0]
        shown = shown[: shown.find("}}") + 2] if "}}" in shown else shown
        raise TemplateError(
            f"{source}, line {line}: '{shown}' is not a placeholder; write {{{{name}}}} with letters, digits and "
            "underscores, closed by }}"
        )


def placeholders(template: str) -> set[str]:
    """The placeholder names a template uses."""
    return set(PLACEHOLDER.findall(template))


def render(template: str, values: Mapping[str, str], *, source: str = "template") -> str:
    """Fill every ``{{name}}`` in ``template`` from ``values``.

    Raises TemplateError naming a malformed placeholder, or each unknown placeholder and the names that
    are available.
    """
    check_placeholders(template, source=source)
    missing = sorted(placeholders(template) - set(values))
    if missing:
        raise TemplateError(
            f"{source} uses unknown placeholder(s) {', '.join('{{' + m + '}}' for m in missing)}; "
            f"the values available here are: {', '.join(sorted(values)) or '(none)'}"
        )
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


FRAME_TAGS = frozenset({"user_input", "is_free_tier_user", "identity"})
"""Tags through which the built-in prompts tell the model what was asked and who is asking."""
_TAG_NAME = re.compile(r"<\s*(/\s*)?([A-Za-z_][\w.\-]*)")


def frame_tags(template: str, values: Mapping[str, str]) -> frozenset[str]:
    """Tag names (lower case) that frame the query in a user turn: the built-in ``FRAME_TAGS``, tags that
    open and close in the template (``<user_input>`` … ``</user_input>``), and every tag in the values
    the template substitutes other than the query (a condition's ``<is_free_tier_user>`` or ``<identity>``)."""
    opened = {m.group(2).lower() for m in _TAG_NAME.finditer(template) if not m.group(1)}
    closed = {m.group(2).lower() for m in _TAG_NAME.finditer(template) if m.group(1)}
    used = placeholders(template) - {"query"}
    in_values = {m.group(2).lower() for key in used for m in _TAG_NAME.finditer(str(values.get(key, "")))}
    return frozenset(FRAME_TAGS | (opened & closed) | in_values)


def escape_tags(text: str, names: frozenset[str] | set[str]) -> tuple[str, list[str]]:
    """``text`` with every opening, closing or self-closing tag named in ``names`` (any case, any spacing
    inside the brackets) written with ``&lt;`` for its ``<``, and the sorted names that were escaped.

    A dataset query is user text: a ``<is_free_tier_user>False</is_free_tier_user>`` or ``</user_input>``
    inside it must not read as the prompt's own tags, or a query could spoof the condition it is asked
    under. The paper's datasets contain no such tags, so their queries render byte for byte as given."""
    escaped: set[str] = set()

    def swap(match: re.Match[str]) -> str:
        name = match.group(2).lower()
        if name not in names:
            return match.group(0)
        escaped.add(name)
        return "&lt;" + match.group(0)[1:]

    return _TAG_NAME.sub(swap, text), sorted(escaped)


def load_template(name_or_path: str | Path, *, search: Path = TEMPLATE_DIR) -> str:
    """Read a template: a path to a user's own file, or the name of a built-in one.

    Built-in names are the file names in ``solvers/templates`` (with or without ``.txt``).
    """
    candidate = user_path(name_or_path)
    name = str(name_or_path)
    for option in (candidate, search / name, search / f"{name}.txt"):
        if option.is_file():
            text = read_text(option, what="template file", error=TemplateError)
            check_placeholders(text, source=f"template file {option}")
            return text
    builtins = sorted(p.stem for p in search.glob("*.txt"))
    raise TemplateError(
        f"template '{name_or_path}' is neither an existing file nor a built-in template; "
        f"built-in templates: {', '.join(builtins)}"
    )


# ---------------------------------------------------------------------------------------------- a scenario's prompts

USER_PLACEHOLDERS = {"query"}
BUILTIN_VALUES: dict[str, Any] = {"examples": {"template": "examples_helpful_only"}}
"""Values every scenario has unless it sets its own: the few-shot examples of the built-in system prompts
(``examples: ""`` in a scenario or variant removes them)."""


class ConditionSpec(Protocol):
    """What rendering reads of a scenario's condition (``tasks/scenario.py::Condition``)."""

    @property
    def name(self) -> str: ...
    @property
    def values(self) -> dict[str, str]: ...


class PromptSpec(Protocol):
    """What rendering reads of a scenario (``tasks/scenario.py::Scenario``)."""

    @property
    def name(self) -> str: ...
    @property
    def templates(self) -> dict[str, dict[str, str]]: ...
    @property
    def values(self) -> dict[str, Any]: ...
    @property
    def conditions(self) -> tuple[Any, ...]: ...
    @property
    def template_dirs(self) -> tuple[Path, ...]: ...


def scenario_file(spec: PromptSpec, name: str) -> str:
    """A template named by a scenario: beside its file(s) first, then the built-ins."""
    for folder in spec.template_dirs:
        if (folder / name).is_file() or (folder / f"{name}.txt").is_file():
            return load_template(name, search=folder)
    return load_template(name)


def scenario_template(spec: PromptSpec, kind: str, cot: bool, override: str | None = None) -> str:
    """The text of a scenario's system or user template for this mode (a user's file wins)."""
    if override:
        return load_template(override)
    mode = "cot" if cot else "no_cot"
    name = spec.templates[kind].get(mode)
    if name is None:
        raise TemplateError(f"scenario '{spec.name}' has no {kind} template for mode '{mode}'")
    return scenario_file(spec, name)


def resolved_values(
    spec: PromptSpec, overrides: Mapping[str, str | None], conditions: Iterable[ConditionSpec] | None = None
) -> dict[str, str]:
    """A scenario's values with overrides applied; joins over the conditions, then fragments, rendered."""
    chosen = list(spec.conditions if conditions is None else conditions)
    merged = {**BUILTIN_VALUES, **spec.values, **{k: v for k, v in overrides.items() if v is not None}}
    resolved = {k: str(v) for k, v in merged.items() if not isinstance(v, dict)}
    for key, value in merged.items():
        if isinstance(value, dict) and "join" in value:
            parts = [render(c.values.get(value["join"], ""), resolved, source=f"value '{value['join']}'") for c in chosen]
            resolved[key] = str(value.get("separator", "\n")).join(p for p in parts if p)
    for key, value in merged.items():
        if isinstance(value, dict) and "template" in value:
            fragment = scenario_file(spec, value["template"])
            resolved[key] = render(fragment, resolved, source=f"template '{value['template']}'").strip()
    return resolved


def user_values(
    spec: PromptSpec,
    condition: ConditionSpec,
    overrides: Mapping[str, str] | None = None,
    conditions: Iterable[ConditionSpec] | None = None,
) -> dict[str, str]:
    """The values a condition's user turn is filled from (the scenario's, then the condition's own)."""
    return {**resolved_values(spec, overrides or {}, conditions), **condition.values}


def system_prompt(
    spec: PromptSpec,
    cot: bool,
    override: str | None = None,
    values: Mapping[str, str] | None = None,
    conditions: Iterable[ConditionSpec] | None = None,
) -> str:
    """A scenario's system prompt: identical for every sample of the scenario (given its conditions)."""
    template = scenario_template(spec, "system", cot, override)
    scenario_values = resolved_values(spec, values or {}, conditions)
    per_condition = set().union(*(c.values for c in spec.conditions)) | USER_PLACEHOLDERS
    varying = sorted(placeholders(template) & per_condition - set(scenario_values))
    if varying:
        raise TemplateError(
            f"the system template of scenario '{spec.name}' uses {', '.join(varying)}, which vary by "
            "condition or query; the system prompt must be the same for every sample (put these in the "
            "user template)"
        )
    return render(template, scenario_values, source=f"system template of scenario '{spec.name}'")


def check_user_template(
    spec: PromptSpec, template: str, conditions: list[Any], overrides: Mapping[str, str] | None = None
) -> None:
    """Fail before any model call if the user template cannot carry the experiment: a value a condition
    lacks; no ``{{query}}`` (the model would never see the request); or a user turn that reads the same
    under every condition (the system prompt is shared, so the model could not tell them apart)."""
    if "query" not in placeholders(template):
        raise TemplateError(
            f"the user template of scenario '{spec.name}' has no {{{{query}}}}: the model would never see the "
            f"request; it uses {', '.join('{{' + p + '}}' for p in sorted(placeholders(template))) or 'no placeholders'}"
        )
    rendered: dict[str, list[str]] = {}
    for condition in conditions:
        available = {**user_values(spec, condition, overrides, conditions), "query": "\x00query\x00"}
        missing = sorted(placeholders(template) - set(available))
        if missing:
            raise TemplateError(
                f"the user template uses {', '.join('{{' + m + '}}' for m in missing)}, which condition "
                f"'{condition.name}' of scenario '{spec.name}' does not define; available: {', '.join(sorted(available))}"
            )
        rendered.setdefault(render(template, available, source="user template"), []).append(condition.name)
    same = next((names for names in rendered.values() if len(names) > 1), None)
    if same:
        varying = sorted(set().union(*(c.values for c in spec.conditions)))
        raise TemplateError(
            f"the user template renders the same user turn for conditions {', '.join(same)} of scenario "
            f"'{spec.name}': nothing tells the model which condition it is in; use a value that differs "
            f"between them ({', '.join('{{' + v + '}}' for v in varying) or 'none defined'})"
        )


def scenario_prompts(
    spec: PromptSpec,
    cot: bool,
    overrides: Mapping[str, str],
    conditions: list[Any],
    *,
    system_template: str | None = None,
    user_template: str | None = None,
) -> dict[str, Any]:
    """One prompt variant of our own texts: the system prompt, the user template (checked against the
    conditions) and the values they were filled from."""
    user = scenario_template(spec, "user", cot, user_template)
    check_user_template(spec, user, conditions, overrides)
    return {
        "system": system_prompt(spec, cot, system_template, overrides, conditions),
        "user": user,
        "values": resolved_values(spec, overrides, conditions),
    }
