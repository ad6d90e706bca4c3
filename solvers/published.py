"""Published prompt and rubric texts, read at run time from their public repositories (never copied here).

Two prompt sets and one rubric set (facts from ``paper_spec.md`` §1.2–1.4, §3, §4.2):

- ``greenblatt2024``: Greenblatt et al. 2024, github.com/redwoodresearch/alignment_faking_public. System
  prompts ``model_organism_honly_prompts/prompt_atn_honly_with_examples.txt`` (CoT) and
  ``..._no_cot_with_examples.txt`` (plain text, used as is); the user turn is the ``prompt_template``
  string of the minimal notebook ``minimal_helpful_only_setting.ipynb`` (an ``<INPUT>`` wrapper; Python
  ``str.format`` fields ``{is_free_tier_user}`` and ``{user_input}``, the flag written as a Python bool).
- ``hughes2025``: Hughes & Sheshadri 2025 / Sheshadri et al. 2025, github.com/safety-research/
  open-source-alignment-faking. System prompts ``prompts/system_prompts/helpful-only_prompt-only_{cot,no-cot}
  .jinja2`` ("with training details"); user turns ``prompts/instruction_formats/{free,paid}_tier_formats/
  {cot,no-cot}.jinja2`` (no ``<INPUT>`` wrapper). That code renders every file with Jinja (no variables)
  and then fills the user formats with ``str.format(user_input=..., is_free_tier_user=<bool>)``; so do we.
- ``hughes2025_no_training_details``: the same repository's ``helpful-only_synthetic_{cot,no-cot}.jinja2``
  ("without training details", the prompt for models fine-tuned on synthetic documents) with the same
  user formats.
- Rubric set ``hughes2025``: ``prompts/classifiers/helpful_only_classifiers/strong_reject.jinja2`` (the whole
  text is the user message, ``str.format(prompt=<query>, response=<output>)``) and, in
  ``prompts/classifiers/scratchpad_classifiers/new_classifiers/``, ``deceptive_alignment_majority_vote_v1.jinja``
  (the improved AF classifier) and ``partial_compliance_v1.jinja``: each is the system message and the
  user message is ``<output>{scratchpad}</output>``. Their replies use ``<criteriaN>``/``<quoteN>`` tags
  where our rubrics use ``<criterion_N>``/``<quote>`` (see ``PublishedRubric.criterion_tag``).

Where the files come from (first that applies): ``source`` (``-T prompt_source=``, a clone of the
repository or a folder holding clones named after the repositories), the ``ALIGNMENT_FAKING_PUBLISHED``
environment variable (the same), else a download of ``<base>/<owner>/<repo>/<ref>/<path>`` into the cache
(``$ALIGNMENT_FAKING_CACHE/published``), ``<base>`` being raw.githubusercontent.com unless
``ALIGNMENT_FAKING_PUBLISHED_URL`` names another (a mirror, a local file server, ``file://``). Every file
used is recorded (repository, path, where it was read, ref or commit, sha256) in the task's metadata, and
its sha256 is remembered in the cache's ``published_manifest.json``: a file whose bytes differ from the
ones seen before at the same ref is an error unless ``accept_changed`` is set.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import string
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignment_faking.errors import SuiteError
from alignment_faking.paths import user_path
from alignment_faking.scorers.graders import RubricSwap

SOURCE_ENV = "ALIGNMENT_FAKING_PUBLISHED"
BASE_URL_ENV = "ALIGNMENT_FAKING_PUBLISHED_URL"
DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
DEFAULT_REF = "main"
"""Default git ref to download. A branch moves: pass a commit (``-T prompt_ref=<sha>``) to pin one; the
sha256 of every file is recorded either way, and a change at the same ref is an error (see above)."""
OURS = "ours"
"""The built-in prompt and rubric texts (our own wording), the offline alternative."""


class PublishedError(SuiteError):
    """A published file cannot be found, read or rendered, or has changed since it was cached."""


@dataclass(frozen=True)
class PublishedFile:
    path: str
    syntax: str  # "text" (used as is), "jinja" (rendered without variables), "notebook" (a code-cell string)
    variable: str = ""  # for "notebook": the name the string is assigned to


@dataclass(frozen=True)
class PublishedSet:
    name: str
    repo: str
    paper: str
    files: dict[str, PublishedFile]
    """Roles: ``system_cot``, ``system_no_cot``; ``user_cot``/``user_no_cot`` (one format for both tiers) or
    ``user_cot_free``, ``user_cot_paid``, ``user_no_cot_free``, ``user_no_cot_paid``."""


def _by_name(*sets: PublishedSet) -> dict[str, PublishedSet]:
    return {spec.name: spec for spec in sets}


_OSAF = "safety-research/open-source-alignment-faking"
_OSAF_MODES = (("cot", "cot"), ("no_cot", "no-cot"))  # role suffix, file-name part


def _osaf_prompts(system: str) -> dict[str, PublishedFile]:
    """A prompt set of open-source-alignment-faking: the system prompts
    ``prompts/system_prompts/helpful-only_<system>_{cot,no-cot}.jinja2`` and the user formats every set
    there shares, one per tier."""
    return {
        **{
            f"system_{mode}": PublishedFile(f"prompts/system_prompts/helpful-only_{system}_{part}.jinja2", "jinja")
            for mode, part in _OSAF_MODES
        },
        **{
            f"user_{mode}_{tier}": PublishedFile(f"prompts/instruction_formats/{tier}_tier_formats/{part}.jinja2", "jinja")
            for mode, part in _OSAF_MODES
            for tier in ("free", "paid")
        },
    }


PROMPT_SETS = _by_name(
    PublishedSet(
        name="greenblatt2024",
        repo="redwoodresearch/alignment_faking_public",
        paper="Greenblatt et al. 2024 (arXiv 2412.14093), App. B.4 minimal reproduction",
        files={
            "system_cot": PublishedFile("model_organism_honly_prompts/prompt_atn_honly_with_examples.txt", "text"),
            "system_no_cot": PublishedFile("model_organism_honly_prompts/prompt_atn_honly_no_cot_with_examples.txt", "text"),
            "user_cot": PublishedFile("minimal_helpful_only_setting.ipynb", "notebook", "prompt_template"),
            "user_no_cot": PublishedFile("minimal_helpful_only_setting.ipynb", "notebook", "prompt_template"),
        },
    ),
    PublishedSet(
        name="hughes2025",
        repo=_OSAF,
        paper="Sheshadri et al. 2025 (arXiv 2506.18032) / Hughes & Sheshadri 2025, 'with training details'",
        files=_osaf_prompts("prompt-only"),
    ),
    PublishedSet(
        name="hughes2025_no_training_details",
        repo=_OSAF,
        paper="Sheshadri et al. 2025 §3.3 / Hughes & Sheshadri 2025, 'without training details'",
        files=_osaf_prompts("synthetic"),
    ),
)

RUBRIC_SETS = _by_name(
    PublishedSet(
        name="hughes2025",
        repo=_OSAF,
        paper="Sheshadri et al. 2025 App. N.1–N.3; Hughes & Sheshadri 2025 App. A",
        files={
            "strongreject": PublishedFile("prompts/classifiers/helpful_only_classifiers/strong_reject.jinja2", "jinja"),
            "af_classifier": PublishedFile(
                "prompts/classifiers/scratchpad_classifiers/new_classifiers/deceptive_alignment_majority_vote_v1.jinja", "jinja"
            ),
            "partial_compliance": PublishedFile(
                "prompts/classifiers/scratchpad_classifiers/new_classifiers/partial_compliance_v1.jinja", "jinja"
            ),
        },
    ),
)


# ---------------------------------------------------------------------------------------------- fetching


@dataclass
class Fetched:
    text: str
    root: Path  # the folder the path is relative to (for Jinja includes)
    record: dict[str, Any]


def cache_root() -> Path:
    base = os.environ.get("ALIGNMENT_FAKING_CACHE") or Path.home() / ".cache" / "alignment_faking"
    return Path(base) / "published"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _git_commit(folder: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def _clone_root(source: Path, repo: str, path: str) -> Path | None:
    """``source`` itself if it holds ``path``, else ``source/<repo name>`` if that does."""
    for root in (source, source / repo.split("/")[-1]):
        if (root / path).is_file():
            return root
    return None


def _how_to_get(spec: PublishedSet, what: str) -> str:
    return (
        f"{what}. Get a local copy with `git clone https://github.com/{spec.repo}` and pass "
        f"-T prompt_source=/path/to/clone (or set {SOURCE_ENV}), or run with the built-in texts "
        f"(prompt_set={OURS}, rubric_set={OURS}, the default)"
    )


class Manifest:
    """The sha256 of every published file seen, per repository, ref and path (in the cache folder)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.entries: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (OSError, json.JSONDecodeError):
            self.entries = {}

    def check(self, key: str, digest: str, accept_changed: bool, where: str) -> bool:
        """True if the file is known with another digest (accepted); raises if not accepted."""
        known = self.entries.get(key)
        if known is not None and known != digest and not accept_changed:
            raise PublishedError(
                f"{where} has changed since it was first read (sha256 {known[:12]}… then, {digest[:12]}… now); "
                "pin a commit with -T prompt_ref=<sha>, or pass -T accept_changed=true to use the new text "
                "(its sha256 is recorded in the log)"
            )
        changed = known is not None and known != digest
        self.entries[key] = digest
        return changed

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.entries, indent=1, sort_keys=True), encoding="utf-8")


def fetch(
    spec: PublishedSet,
    role: str,
    *,
    source: str | Path | None = None,
    ref: str = DEFAULT_REF,
    accept_changed: bool = False,
    refresh: bool = False,
) -> Fetched:
    """The bytes of one published file, from a local clone or the cache (downloading once), recorded."""
    entry = spec.files[role]
    manifest = Manifest(cache_root() / "published_manifest.json")
    local = source or os.environ.get(SOURCE_ENV)
    record: dict[str, Any] = {"set": spec.name, "role": role, "repo": spec.repo, "path": entry.path, "syntax": entry.syntax}
    if local:
        folder = user_path(str(local))
        if not folder.is_dir():
            raise PublishedError(_how_to_get(spec, f"prompt_source {local} is not a folder"))
        root = _clone_root(folder, spec.repo, entry.path)
        if root is None:
            raise PublishedError(
                _how_to_get(spec, f"{entry.path} of {spec.repo} is not in {folder} (nor in {folder / spec.repo.split('/')[-1]})")
            )
        data = (root / entry.path).read_bytes()
        commit = _git_commit(root)
        record.update(source=f"local:{root.resolve()}", ref=commit or "unknown (not a git checkout)")
        key = f"{spec.repo}@{commit or 'local:' + str(root.resolve())}:{entry.path}"
    else:
        base = os.environ.get(BASE_URL_ENV, DEFAULT_BASE_URL).rstrip("/")
        url = f"{base}/{spec.repo}/{ref}/{entry.path}"
        root = cache_root() / spec.repo / ref
        target = root / entry.path
        key = f"{spec.repo}@{ref}:{entry.path}"
        if target.is_file() and not refresh:
            data = target.read_bytes()
        else:
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    data = response.read()
            except (urllib.error.URLError, TimeoutError, OSError, ValueError) as ex:
                reason = getattr(ex, "reason", ex)
                raise PublishedError(_how_to_get(spec, f"could not download {url} ({reason}) and no copy is cached")) from ex
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        record.update(source=url, ref=ref)
    digest = _sha256(data)
    record["sha256"] = digest
    record["changed_since_cached"] = manifest.check(key, digest, accept_changed, f"{entry.path} of {spec.repo} ({record['source']})")
    manifest.save()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as ex:
        raise PublishedError(f"{entry.path} of {spec.repo} is not UTF-8 text ({ex})") from ex
    return Fetched(text=text, root=root, record=record)


# --------------------------------------------------------------------------------------------- rendering


def render_jinja(fetched: Fetched, path: str) -> str:
    """Render a file the way the published code does: Jinja, no variables, default environment."""
    import jinja2

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(fetched.root)), autoescape=False)
    try:
        return environment.from_string(fetched.text).render()
    except jinja2.TemplateError as ex:
        raise PublishedError(f"{path}: Jinja could not render it ({type(ex).__name__}: {ex})") from ex


def notebook_string(text: str, variable: str, path: str) -> str:
    """The string literal assigned to ``variable`` in a notebook's code cells (the last such assignment)."""
    try:
        cells = json.loads(text).get("cells", [])
    except (json.JSONDecodeError, AttributeError) as ex:
        raise PublishedError(f"{path} is not a Jupyter notebook ({ex})") from ex
    found: str | None = None
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        try:
            tree = compile(source, path, "exec", flags=flags)
        except SyntaxError:  # magics (%pip …) and the like: not where the template is
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                found = node.value.value
    if found is None:
        raise PublishedError(f"{path} has no code cell that assigns a string to {variable}")
    return found


def rendered(fetched: Fetched, entry: PublishedFile) -> str:
    if entry.syntax == "jinja":
        return render_jinja(fetched, entry.path)
    if entry.syntax == "notebook":
        return notebook_string(fetched.text, entry.variable, entry.path)
    return fetched.text


_OUR_PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}")


def format_to_template(text: str, fields: dict[str, str], path: str) -> str:
    """A ``str.format`` text as one of our ``{{name}}`` templates: each field renamed by ``fields`` (a value
    in ``{{...}}`` becomes our placeholder, any other value is substituted as text), literal text kept as
    ``str.format`` would print it (``{{`` is one ``{``). Fields not in ``fields``, format specs and
    conversions are errors, as they would be for the published code."""
    parts: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as ex:
        raise PublishedError(f"{path}: not a valid str.format template ({ex})") from ex
    for literal, name, spec, conversion in parsed:
        if _OUR_PLACEHOLDER.search(literal):
            raise PublishedError(f"{path}: its text contains {{{{...}}}} after formatting, which this suite cannot render literally")
        parts.append(literal)
        if name is None:
            continue
        if name not in fields or spec or conversion:
            raise PublishedError(
                f"{path}: field {{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} is not "
                f"one this suite fills ({', '.join('{' + f + '}' for f in fields)})"
            )
        parts.append(fields[name])
    return "".join(parts)


TIER_CASINGS = ("True", "true")
"""How the tier flag is written: as the published code's Python bool (``True``/``False``) or lower case."""


def tier_flag(trained: bool, casing: str) -> str:
    text = "True" if trained else "False"
    return text if casing == "True" else text.lower()


@dataclass
class PromptSetTexts:
    """A published prompt set, ready for the scenario engine."""

    system: str
    user: dict[str, str]  # condition name -> user template in our syntax ({{query}})
    files: list[dict[str, Any]] = field(default_factory=list)
    casing_applied: bool = False


def load_prompt_set(
    name: str,
    *,
    cot: bool,
    conditions: dict[str, bool],
    source: str | Path | None = None,
    ref: str = DEFAULT_REF,
    tier_casing: str = "True",
    accept_changed: bool = False,
) -> PromptSetTexts:
    """The published system prompt and user turns for ``conditions`` (name -> told it is trained)."""
    if name not in PROMPT_SETS:
        raise PublishedError(f"unknown prompt_set '{name}'; choose {OURS} or one of: {', '.join(PROMPT_SETS)}")
    if tier_casing not in TIER_CASINGS:
        raise PublishedError(f"tier_casing must be one of {', '.join(TIER_CASINGS)}, got {tier_casing!r}")
    spec = PROMPT_SETS[name]
    mode = "cot" if cot else "no_cot"
    cache: dict[str, tuple[str, dict[str, Any]]] = {}

    def text_of(role: str) -> str:
        entry = spec.files[role]
        if entry.path not in cache:
            fetched = fetch(spec, role, source=source, ref=ref, accept_changed=accept_changed)
            cache[entry.path] = (rendered(fetched, entry), fetched.record)
        return cache[entry.path][0]

    system = text_of(f"system_{mode}")
    user: dict[str, str] = {}
    casing_applied = False
    for condition, trained in conditions.items():
        role = f"user_{mode}" if f"user_{mode}" in spec.files else f"user_{mode}_{'free' if trained else 'paid'}"
        raw = text_of(role)
        casing_applied |= "{is_free_tier_user}" in raw
        user[condition] = format_to_template(
            raw, {"user_input": "{{query}}", "is_free_tier_user": tier_flag(trained, tier_casing)}, spec.files[role].path
        )
    files = [record for _, record in cache.values()]
    return PromptSetTexts(system=system, user=user, files=files, casing_applied=casing_applied)


# ------------------------------------------------------------------------------------------------ rubrics


@dataclass(frozen=True)
class PublishedRubric:
    """A published grader prompt and how the published code sends it.

    ``layout`` is ``"user_format"`` (the whole text is the user message, filled with ``str.format`` using
    ``fields``) or ``"system_output"`` (the text is the system message; the user message is
    ``<output>{scratchpad}</output>``). ``criterion_tag`` names the reply's criterion tags
    (``criteria`` for ``<criteria1>``…; our rubrics use ``criterion_`` for ``<criterion_1>``).
    """

    name: str
    text: str
    layout: str
    fields: tuple[str, ...] = ()
    criterion_tag: str = "criteria"
    record: dict[str, Any] = field(default_factory=dict)

    def user_message(self, **values: str) -> str:
        """The user message for graded ``values`` (strongreject: ``prompt``, ``response``; votes: ``scratchpad``)."""
        if self.layout == "system_output":
            return f"<output>{values['scratchpad']}</output>"
        template = format_to_template(self.text, {f: "{{" + f + "}}" for f in self.fields}, self.record.get("path", self.name))
        from alignment_faking.solvers.prompts import render

        return render(template, values, source=f"published rubric {self.name}")


RUBRIC_LAYOUTS = {
    "strongreject": ("user_format", ("prompt", "response")),
    "af_classifier": ("system_output", ()),
    "partial_compliance": ("system_output", ()),
}


def load_rubric(
    name: str, rubric_set: str, *, source: str | Path | None = None, ref: str = DEFAULT_REF, accept_changed: bool = False
) -> PublishedRubric:
    """A published rubric (``strongreject``, ``af_classifier`` or ``partial_compliance``) of ``rubric_set``."""
    if rubric_set not in RUBRIC_SETS:
        raise PublishedError(f"unknown rubric_set '{rubric_set}'; choose {OURS} or one of: {', '.join(RUBRIC_SETS)}")
    spec = RUBRIC_SETS[rubric_set]
    if name not in spec.files:
        raise PublishedError(f"rubric_set '{rubric_set}' has no rubric '{name}'; it has: {', '.join(spec.files)}")
    fetched = fetch(spec, name, source=source, ref=ref, accept_changed=accept_changed)
    layout, fields = RUBRIC_LAYOUTS[name]
    text = rendered(fetched, spec.files[name])
    return PublishedRubric(name=name, text=text, layout=layout, fields=fields, record=fetched.record)


# ------------------------------------------------------------------------------- published rubrics in graders
# the swap itself (message layout, defanged text, reply tags) is the grader's own: scorers/graders.py RubricSwap


def with_published_rubric(
    grader: Any, rubric_set: str, *, source: str | Path | None = None, ref: str = DEFAULT_REF, accept_changed: bool = False
) -> tuple[Any, dict[str, Any] | None]:
    """``grader`` (a ``scorers.graders`` object) with the rubric of ``rubric_set`` swapped in, and the record
    of the file read (None for ``ours``, which returns the grader unchanged). The grader keeps its settings,
    aggregation and parser; the rubric brings its text, its message layout and its reply tags."""
    if rubric_set == OURS:
        return grader, None
    published = load_rubric(grader.rubric_file, rubric_set, source=source, ref=ref, accept_changed=accept_changed)
    return grader.with_rubric(RubricSwap(published.name, published.text, published.layout, published.fields)), published.record


def published_rubrics(
    rubric_set: str, *, source: str | Path | None = None, ref: str = DEFAULT_REF, accept_changed: bool = False
) -> tuple[dict[str, dict[str, Any]] | None, list[dict[str, Any]]]:
    """The rubrics of ``rubric_set`` as the scorer takes them (``alignment_faking_scorer(rubrics=...)``: text,
    layout and fields by rubric file; None for ``ours``) and the records of the files read."""
    if rubric_set == OURS:
        return None, []
    loaded = [load_rubric(name, rubric_set, source=source, ref=ref, accept_changed=accept_changed) for name in RUBRIC_SETS[rubric_set].files]
    return {r.name: {"text": r.text, "layout": r.layout, "fields": list(r.fields)} for r in loaded}, [r.record for r in loaded]
