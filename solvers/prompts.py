"""Prompt templates: loading and rendering.

Templates are plain text files with ``{{name}}`` placeholders (single braces are literal text, so code in
few-shot examples needs no escaping). Rendering is one pass: text substituted into a placeholder (a user's
query, say) is never scanned again, so a query that contains ``{{condition_tag}}`` stays literal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

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
