"""Paraphrase files at run time: ``-T paraphrases=FILE`` runs the accepted paraphrases of a file written by
``python -m alignment_faking.paraphrase`` (the command that writes them; see its docstring), each checked
against this run's prompt before any model is called.

A row is used when ``accepted`` is true; it must name the prompt it paraphrases (``source_sha256`` and ``cot``
equal to this run's) and carry a ``system_template`` that is text and keeps every placeholder of that prompt
(``{{lab}}``, ``{{partner}}``…: the run fills them). A file that breaks any of this is one clear error.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from alignment_faking.errors import SuiteError
from alignment_faking.paths import read_text, user_path

from .prompts import placeholders, system_prompt

PARAPHRASE_PREFIX = "g"
WRITER = "python -m alignment_faking.paraphrase"
"""The command that writes paraphrase files (``alignment_faking/paraphrase.py``)."""


class ParaphraseError(SuiteError):
    """A paraphrase file cannot be used for this run."""


def source_prompt(spec: Any, cot: bool) -> str:
    """The system prompt to paraphrase: the scenario's, with its plain values left as ``{{placeholders}}``."""
    plain = {k: "{{" + k + "}}" for k, v in spec.values.items() if not isinstance(v, dict)}
    return system_prompt(spec, cot, values=plain)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _rows(file: Path) -> list[tuple[int, Any]]:
    rows = []
    for number, line in enumerate(read_text(file, what="paraphrase file", error=ParaphraseError).split("\n"), start=1):
        if line.strip():
            try:
                rows.append((number, json.loads(line)))
            except json.JSONDecodeError as ex:
                raise ParaphraseError(f"{file}: line {number} is not JSON ({ex.msg} at column {ex.colno})") from ex
    return rows


def _template(file: Path, number: int, row: dict[str, Any], original: str) -> str:
    """The ``system_template`` of an accepted row, or one clear error."""
    text = row.get("system_template")
    if not isinstance(text, str) or not text.strip():
        found = "missing" if "system_template" not in row else f"a {type(text).__name__}, not text"
        raise ParaphraseError(
            f"{file}: line {number} (paraphrase {row.get('id')}) is accepted but its system_template is {found}; "
            f"rewrite the file with {WRITER}"
        )
    lost = sorted(placeholders(original) - placeholders(text))
    if lost:
        raise ParaphraseError(
            f"{file}: line {number} (paraphrase {row.get('id')}) lost placeholder(s) "
            f"{', '.join('{{' + name + '}}' for name in lost)} of the prompt it paraphrases; the run could not fill "
            f"them, so it is refused (mark it rejected or regenerate it with {WRITER})"
        )
    return text


def load_paraphrases(path: str | Path, spec: Any, cot: bool) -> dict[str, str]:
    """The accepted paraphrases of a file (id -> system template), checked against this run's prompt."""
    file = user_path(str(path))
    if not file.is_file():
        raise ParaphraseError(f"paraphrase file '{path}' does not exist; write one with {WRITER}")
    original = source_prompt(spec, cot)
    expected = digest(original)
    rows = _rows(file)
    accepted = {}
    for number, row in rows:
        if not isinstance(row, dict):
            raise ParaphraseError(f"{file}: line {number} is a JSON {type(row).__name__}, not an object written by {WRITER}")
        if row.get("accepted") is not True:
            continue
        if row.get("source_sha256") != expected or row.get("cot") is not cot:
            raise ParaphraseError(
                f"{file}: paraphrase {row.get('id')} was made from another prompt (scenario '{row.get('scenario')}', "
                f"cot={row.get('cot')}) than this run's ({spec.name}, cot={cot}); regenerate it for this scenario and mode"
            )
        accepted[str(row.get("id", f"{PARAPHRASE_PREFIX}{number:03d}"))] = _template(file, number, row, original)
    if not accepted:
        raise ParaphraseError(f"{file}: no accepted paraphrase to run ({len(rows)} rejected); see their 'reasons'")
    return accepted
