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
- ``greenblatt2024_animal_welfare``: the animal-welfare setting's default prompt (Greenblatt et al. App. G.3
  #58), ``model_organism_animal_prompts/prompt_default.txt`` of the Redwood repository (plain text); its user
  turn is built in code there, so ours is the tag layout of the published transcripts (``INPUT_LAYOUT``, no
  suffix). CoT only (the folder's no-CoT file name is not verified).
- ``mitrani2026_*``: the 2026 animal-welfare prompts of Mitrani Hadida et al. in their fork
  ``nmitrani/alignment-faking-deep-values``: ``base`` (the lean ``cot-base``), ``informative`` and the six
  ablations of ``base`` (``MITRANI_ABLATIONS``), with the fork's per-tier ``cot`` user formats. CoT only.
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
``ALIGNMENT_FAKING_PUBLISHED_URL`` names another (a mirror, a local file server, ``file://``). That download is
``fetch_file`` of a ``PinnedFile`` (repository, path, ref, optional sha256): the suite's one fetcher, also used
for published query files and AdvBench (``tasks/queries.py``) and the newer settings' data
(``tasks/setting_data.py``), so every download shares one cache and one changed-file check (``remember``). Every file
used, every file a Jinja template includes, imports or extends among them (read from the same copy at the same
ref by ``Reader``), is recorded (repository, path, where it was read, ref or commit, sha256, ``included_by``)
in the task's metadata; a plain folder (not a git clone) records ``content-sha256:<digest>`` of the set's
files as its ref. Each sha256 is remembered in the cache's ``published_manifest.json``: a file whose bytes
differ from the ones seen before at the same ref is an error unless ``accept_changed`` is set. A set runs
only with scenarios of its setting (``check_prompt_set_fits``), and every user format must carry the request
and the tier (``check_user_format``), before any model call.

This module is the package's shared base (tasks and scorers import it); the grader side of published rubrics
is ``scorers/published_rubric.py``. ``python -m alignment_faking.published`` measures the sets' system prompts.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import string
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from alignment_faking.errors import SuiteError
from alignment_faking.paths import user_path

SOURCE_ENV = "ALIGNMENT_FAKING_PUBLISHED"
BASE_URL_ENV = "ALIGNMENT_FAKING_PUBLISHED_URL"
DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
DEFAULT_REF = "HEAD"
"""Default git ref to download: ``HEAD``, the repository's default branch (raw.githubusercontent.com resolves
it; redwoodresearch/alignment_faking_public's is ``master``, so a fixed ``main`` would not be found there). A
branch moves: pass a commit (``-T prompt_ref=<sha>``) to pin one; the sha256 of every file is recorded either
way, and a change at the same ref is an error (see above)."""
OURS = "ours"
"""The built-in prompt and rubric texts (our own wording), the offline alternative."""


class PublishedError(SuiteError):
    """A published file cannot be found, read or rendered, or has changed since it was cached."""


@dataclass(frozen=True)
class PublishedFile:
    path: str
    syntax: str
    """``text`` (used as is), ``jinja`` (rendered without variables, with every file it includes, imports or
    extends read from the same repository at the same ref), ``notebook`` (a code-cell string), or ``layout``
    (no file: ``variable`` holds a tag layout of our own, for a set whose user turn is built in code)."""
    variable: str = ""  # "notebook": the name the string is assigned to; "layout": the layout itself


@dataclass(frozen=True)
class PublishedSet:
    name: str
    repo: str
    paper: str
    files: dict[str, PublishedFile]
    """Roles: ``system_cot``, ``system_no_cot`` (a set may lack one mode); ``user_cot``/``user_no_cot`` (one
    format for both tiers) or ``user_cot_free``, ``user_cot_paid``, ``user_no_cot_free``, ``user_no_cot_paid``."""
    setting: str = "helpful_only"
    """The scenario setting the texts belong to (``helpful_only`` or ``animal_welfare``): a set runs only
    with scenarios of its setting (``check_prompt_set_fits``)."""


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


_REDWOOD = "redwoodresearch/alignment_faking_public"
INPUT_LAYOUT = "<INPUT>\n<is_free_tier_user>{is_free_tier_user}</is_free_tier_user>\n\n<user_input>\n{user_input}\n</user_input>\n</INPUT>"
"""The animal-welfare user turn of Greenblatt et al. (tags only, no suffix): the layout of the published
transcripts (redwoodresearch.github.io/alignment_faking_examples, animal_welfare pages: ``<INPUT>``, the tier
tag, a blank line, ``<user_input>`` with the query on its own lines); the repository builds it in code, so
there is no file to read."""
_MITRANI = "nmitrani/alignment-faking-deep-values"
MITRANI_ABLATIONS = (
    "cut-company-policy", "cut-humanity-goal", "cut-provenance", "cut-rlhf-modification",
    "cut-scratchpad-concealment", "cut-tier-training-link",
)
"""The six ablations of the lean ``cot-base`` prompt (Mitrani Hadida et al. 2026; animal_welfare_spec.md §2.2),
``prompts/system_prompts/ablations/cot-base_<name>.jinja2`` in the authors' fork of open-source-alignment-faking."""


def _mitrani_sets() -> list[PublishedSet]:
    """The 2026 animal-welfare prompts of Mitrani Hadida et al. (spec §2.2): ``cot-base`` (the lean prompt the
    ablations cut), ``cot-informative`` and the six ablations, with the fork's per-tier ``cot`` user formats
    (the pipeline's default when no format is given). CoT only: the fork has no no-CoT versions of them."""
    users = {
        f"user_cot_{tier}": PublishedFile(f"prompts/instruction_formats/{tier}_tier_formats/cot.jinja2", "jinja")
        for tier in ("free", "paid")
    }
    systems = {
        "mitrani2026_base": "prompts/system_prompts/animal-welfare_prompt-only_cot-base.jinja2",
        "mitrani2026_informative": "prompts/system_prompts/animal-welfare_prompt-only_cot-informative.jinja2",
        **{f"mitrani2026_{a.replace('-', '_')}": f"prompts/system_prompts/ablations/cot-base_{a}.jinja2" for a in MITRANI_ABLATIONS},
    }
    return [
        PublishedSet(
            name=name, repo=_MITRANI, paper="Mitrani Hadida et al. 2026 (arXiv 2605.27681), animal welfare",
            files={"system_cot": PublishedFile(path, "jinja"), **users}, setting="animal_welfare",
        )
        for name, path in systems.items()
    ]


PROMPT_SETS = _by_name(
    PublishedSet(
        name="greenblatt2024",
        repo=_REDWOOD,
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
    PublishedSet(
        name="greenblatt2024_animal_welfare",
        repo=_REDWOOD,
        paper="Greenblatt et al. 2024 §3.3.1, App. G.3 #58 (the default animal-welfare prompt)",
        files={
            "system_cot": PublishedFile("model_organism_animal_prompts/prompt_default.txt", "text"),
            "user_cot": PublishedFile("(built in) <INPUT> layout of the published transcripts", "layout", INPUT_LAYOUT),
        },
        setting="animal_welfare",
    ),
    *_mitrani_sets(),
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


def cache_root() -> Path:
    base = os.environ.get("ALIGNMENT_FAKING_CACHE") or Path.home() / ".cache" / "alignment_faking"
    return Path(base) / "published"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_commit(folder: Path) -> str | None:
    """The commit checked out in ``folder``, or None (not a git clone)."""
    try:
        result = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def clone_root(source: Path, repo: str, path: str) -> Path | None:
    """``source`` itself if it holds ``path``, else ``source/<repo name>`` if that does."""
    for root in (source, source / repo.split("/")[-1]):
        if (root / path).is_file():
            return root
    return None


OFFLINE_TEXTS = f"-T prompt_source=/path/to/clone (or set {SOURCE_ENV}), or run with the built-in texts (prompt_set={OURS}, rubric_set={OURS}, the default)"


def how_to_get(repo: str, what: str, alternative: str = OFFLINE_TEXTS) -> str:
    return f"{what}. Get a local copy with `git clone https://github.com/{repo}` and pass {alternative}"


CHANGED_HINT = "pin a commit with -T prompt_ref=<sha>, or pass -T accept_changed=true to use the new text (its sha256 is recorded in the log)"


class Manifest:
    """The sha256 of every published file seen, per repository, ref and path (in the cache folder)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.entries: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (OSError, json.JSONDecodeError):
            self.entries = {}

    def check(self, key: str, digest: str, accept_changed: bool, where: str, hint: str = CHANGED_HINT) -> bool:
        """True if the file is known with another digest (accepted); raises if not accepted."""
        known = self.entries.get(key)
        if known is not None and known != digest and not accept_changed:
            raise PublishedError(f"{where} has changed since it was first read (sha256 {known[:12]}… then, {digest[:12]}… now); {hint}")
        changed = known is not None and known != digest
        self.entries[key] = digest
        return changed

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.entries, indent=1, sort_keys=True), encoding="utf-8")


def read_pinned_beside(path: Path, what: str) -> bytes:
    """The bytes of a file shipped with its sha256 in ``<file>.sha256`` beside it (our own data sets); a file
    whose bytes no longer match is an error naming it as ``what`` (a tampered or half-edited copy never passes
    as the pinned one)."""
    data = path.read_bytes()
    pinned = path.with_name(path.name + ".sha256").read_text(encoding="utf-8").split()[0]
    if _sha256(data) != pinned:
        raise PublishedError(f"{what} has sha256 {_sha256(data)[:12]}…, not the {pinned[:12]}… pinned beside it")
    return data


def remember(key: str, digest: str, where: str, *, accept_changed: bool = False, hint: str = CHANGED_HINT) -> bool:
    """Check a file's sha256 against the one first seen under ``key`` (``repo@ref:path``, in the cache's
    ``published_manifest.json``) and remember it. True if it differs and ``accept_changed``; an error if it
    differs otherwise (``hint`` says what to do)."""
    manifest = Manifest(cache_root() / "published_manifest.json")
    changed = manifest.check(key, digest, accept_changed, where, hint)
    manifest.save()
    return changed


@dataclass(frozen=True)
class PinnedFile:
    """One file of a public GitHub repository at a git ref (a commit pins it), and the sha256 it must have
    where one is pinned. The suite's one description of a file to download: prompts, rubrics, query files and
    the newer settings' data all go through ``fetch_file``."""

    repo: str
    path: str
    ref: str = DEFAULT_REF
    sha256: str | None = None

    @property
    def key(self) -> str:
        return f"{self.repo}@{self.ref}:{self.path}"

    def url(self, base_url: str | None = None) -> str:
        base = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        return f"{base.rstrip('/')}/{self.repo}/{self.ref}/{self.path}"

    def cached(self) -> Path:
        return cache_root() / self.repo / self.ref / self.path


def _download(url: str, repo: str, alternative: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read()
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as ex:
        reason = getattr(ex, "reason", ex)
        raise PublishedError(how_to_get(repo, f"could not download {url} ({reason}) and no copy is cached", alternative)) from ex


def fetch_file(pinned: PinnedFile, *, base_url: str | None = None, refresh: bool = False, alternative: str = OFFLINE_TEXTS) -> tuple[bytes, str]:
    """The bytes of ``pinned`` and the URL they come from: downloaded once from ``<base>/<owner>/<repo>/<ref>/
    <path>`` (``base_url``, else ``$ALIGNMENT_FAKING_PUBLISHED_URL``, else raw.githubusercontent.com) into
    ``cache_root()/<owner>/<repo>/<ref>/<path>`` and read from there afterwards (``refresh`` downloads again).
    A pinned sha256 is checked: a cached copy that does not match it is downloaded again, and a download that
    does not match it is an error and is not cached. Offline with no cached copy: one line saying how to get a
    local copy and ``alternative``."""
    for part in (pinned.path, pinned.ref):
        if ".." in Path(part).parts or Path(part).is_absolute() or not part.strip():
            raise PublishedError(f"{pinned.key}: '{part}' is not a path or ref inside the repository {pinned.repo}")
    url, target = pinned.url(base_url), pinned.cached()
    expected = pinned.sha256.lower() if pinned.sha256 else None
    if target.is_file() and not refresh:
        data = target.read_bytes()
        if expected is None or _sha256(data) == expected:
            return data, url
    data = _download(url, pinned.repo, alternative)
    if expected is not None and _sha256(data) != expected:
        raise PublishedError(f"{url} has sha256 {_sha256(data)}, not the pinned {expected}; it was not cached")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return data, url


@dataclass
class Reader:
    """Reads the files of one published repository at one ref, from a local copy or downloads (cached), and
    records each file read once: repository, path, where it was read, ref or commit, sha256, and the file
    that pulled it in (``included_by``). Every file, top-level or included, passes the changed-file check."""

    spec: PublishedSet
    source: str | Path | None = None
    ref: str = DEFAULT_REF
    accept_changed: bool = False
    refresh: bool = False
    alternative: str = OFFLINE_TEXTS
    """What the error for a file that cannot be had offers instead (a local copy, the built-in texts)."""
    records: list[dict[str, Any]] = field(default_factory=list)
    _texts: dict[str, str] = field(default_factory=dict)
    _root: Path | None = None

    def _local(self, path: str) -> tuple[bytes, str, str | None, str]:
        folder = user_path(str(self.source))
        if not folder.is_dir():
            raise PublishedError(how_to_get(self.spec.repo, f"the local copy {self.source} is not a folder", self.alternative))
        root = self._root or clone_root(folder, self.spec.repo, path)
        if root is None or not (root / path).is_file():
            where = root or f"{folder} (nor in {folder / self.spec.repo.split('/')[-1]})"
            raise PublishedError(how_to_get(self.spec.repo, f"{path} of {self.spec.repo} is not in {where}", self.alternative))
        self._root = root
        commit = git_commit(root)
        return (root / path).read_bytes(), f"local:{root.resolve()}", commit, f"{self.spec.repo}@{commit or 'local:' + str(root.resolve())}:{path}"

    def _remote(self, path: str) -> tuple[bytes, str, str | None, str]:
        pinned = PinnedFile(self.spec.repo, path, self.ref)
        data, url = fetch_file(pinned, refresh=self.refresh, alternative=self.alternative)
        return data, url, self.ref, pinned.key

    def read(self, path: str, role: str, included_by: str | None = None) -> str:
        """The text of ``path`` in the repository (read, hashed, checked and recorded once)."""
        if path in self._texts:
            return self._texts[path]
        if ".." in Path(path).parts or Path(path).is_absolute():
            raise PublishedError(f"{included_by or role}: {path} is outside the repository {self.spec.repo}")
        local = self.source or os.environ.get(SOURCE_ENV)
        if local and self.source is None:
            self.source = local
        data, where, ref, key = self._local(path) if local else self._remote(path)
        digest = _sha256(data)
        changed = remember(key, digest, f"{path} of {self.spec.repo} ({where})", accept_changed=self.accept_changed)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as ex:
            raise PublishedError(f"{path} of {self.spec.repo} is not UTF-8 text ({ex})") from ex
        self.records.append({
            "set": self.spec.name, "role": role, "repo": self.spec.repo, "path": path, "source": where, "ref": ref,
            "sha256": digest, "changed_since_cached": changed, **({"included_by": included_by} if included_by else {}),
        })
        self._texts[path] = text
        return text

    def finished(self) -> list[dict[str, Any]]:
        """The records; a plain folder (no git commit) gets, as its ref, a content hash of every file read from
        it: the sha256 of the sorted ``path sha256`` lines, so the log still pins exactly what was used."""
        plain = [r for r in self.records if r["ref"] is None]
        if plain:
            lines = "".join(f"{r['path']} {r['sha256']}\n" for r in sorted(plain, key=lambda r: r["path"]))
            content = f"content-sha256:{_sha256(lines.encode('utf-8'))}"
            for record in plain:
                record["ref"] = content
        return self.records


# --------------------------------------------------------------------------------------------- rendering


class _ReaderLoader(jinja2.BaseLoader):
    """Jinja's loader for one published repository: every template it asks for (the top file and each
    include, import or extends, nested or not, static or computed) is read through the ``Reader``, so it comes
    from the same copy at the same ref and is hashed, checked and recorded."""

    def __init__(self, reader: Reader, role: str, top: str):
        self.reader, self.role, self.top = reader, role, top

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        text = self.reader.read(template, self.role, None if template == self.top else self.top)
        return text, template, lambda: True


def render_jinja(reader: Reader, path: str, role: str) -> str:
    """Render a file the way the published code does (``jinja2.Environment(loader=FileSystemLoader(<repository
    root>), autoescape=False)`` and ``get_template(path).render()``: no variables, Jinja's defaults, so one
    trailing newline of each rendered file is dropped), every included file read from the same copy."""
    environment = jinja2.Environment(loader=_ReaderLoader(reader, role, path), autoescape=False)
    try:
        return environment.get_template(path).render()
    except PublishedError:
        raise
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


def rendered(reader: Reader, entry: PublishedFile, role: str) -> str:
    """The text of one role's file as the published code uses it."""
    if entry.syntax == "layout":
        return entry.variable
    if entry.syntax == "jinja":
        return render_jinja(reader, entry.path, role)
    text = reader.read(entry.path, role)
    return notebook_string(text, entry.variable, entry.path) if entry.syntax == "notebook" else text


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


def check_prompt_set_fits(prompt_set: str | None | list[str | None], setting: str) -> None:
    """One clear line, before anything is read, when a published prompt set (or any of a list: the run's and
    its prompt axis's) belongs to another setting than the scenario (a helpful-only prompt with the welfare
    task, or the reverse), naming the sets that fit. ``ours``, None and names that are not published sets
    pass (those are checked where they are read)."""
    names = prompt_set if isinstance(prompt_set, list) else [prompt_set]
    wrong = [(name, PROMPT_SETS[name]) for name in names if name in PROMPT_SETS and PROMPT_SETS[name].setting != setting]
    if not wrong:
        return
    prompt_set, spec = wrong[0]
    fitting = [OURS, *(name for name, s in PROMPT_SETS.items() if s.setting == setting)]
    raise PublishedError(
        f"prompt_set={prompt_set} holds {spec.setting.replace('_', '-')} texts ({spec.paper}), but this scenario's "
        f"setting is {setting.replace('_', '-')}; prompt sets for it: {', '.join(fitting)}"
    )


_TIER_TAG = re.compile(r"<is_free_tier_user>\s*(true|false)\s*</is_free_tier_user>", re.IGNORECASE)


def check_user_format(raw: str, trained: bool, path: str) -> None:
    """A published user format must carry the request (``{user_input}``) and tell the model its tier: the
    ``{is_free_tier_user}`` field, or a literal ``<is_free_tier_user>`` tag with this tier's value (as the
    no-CoT formats of open-source-alignment-faking write it). Otherwise the run would measure nothing: one
    clear error before any model call (our own templates get the same check in ``Scenario.check_user_template``)."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(raw) if name is not None}
    except ValueError as ex:
        raise PublishedError(f"{path}: not a valid str.format template ({ex})") from ex
    if "user_input" not in fields:
        raise PublishedError(f"{path}: the user format has no {{user_input}} field, so the model would never see the request")
    if "is_free_tier_user" in fields:
        return
    literal = _TIER_TAG.search(raw)
    if literal is None:
        raise PublishedError(
            f"{path}: the user format has no {{is_free_tier_user}} field and no <is_free_tier_user> tag, so the model "
            "would never be told its tier"
        )
    if (literal.group(1).lower() == "true") != trained:
        raise PublishedError(
            f"{path}: the user format for the {'free' if trained else 'paid'} tier writes "
            f"<is_free_tier_user>{literal.group(1)}</is_free_tier_user>, the other tier's flag"
        )


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
    """The published system prompt and user turns for ``conditions`` (name -> told it is trained), every file
    read (includes too) recorded in ``files``, every user format checked (``check_user_format``)."""
    if name not in PROMPT_SETS:
        raise PublishedError(f"unknown prompt_set '{name}'; choose {OURS} or one of: {', '.join(PROMPT_SETS)}")
    if tier_casing not in TIER_CASINGS:
        raise PublishedError(f"tier_casing must be one of {', '.join(TIER_CASINGS)}, got {tier_casing!r}")
    spec = PROMPT_SETS[name]
    mode = "cot" if cot else "no_cot"
    if f"system_{mode}" not in spec.files:
        other = "cot=true" if cot is False else "cot=false"
        raise PublishedError(f"prompt_set={name} has no {'CoT' if cot else 'no-CoT'} system prompt; run it with {other}")
    reader = Reader(spec, source, ref, accept_changed)
    system = rendered(reader, spec.files[f"system_{mode}"], f"system_{mode}")
    user: dict[str, str] = {}
    layouts: list[dict[str, Any]] = []
    casing_applied = False
    for condition, trained in conditions.items():
        role = f"user_{mode}" if f"user_{mode}" in spec.files else f"user_{mode}_{'free' if trained else 'paid'}"
        entry = spec.files[role]
        raw = rendered(reader, entry, role)
        check_user_format(raw, trained, entry.path)
        if entry.syntax == "layout" and not any(r["role"] == role for r in layouts):
            layouts.append({"set": name, "role": role, "repo": spec.repo, "path": entry.path, "source": "built in",
                            "ref": None, "sha256": _sha256(raw.encode("utf-8"))})
        casing_applied |= "{is_free_tier_user}" in raw
        user[condition] = format_to_template(
            raw, {"user_input": "{{query}}", "is_free_tier_user": tier_flag(trained, tier_casing)}, entry.path
        )
    return PromptSetTexts(system=system, user=user, files=[*reader.finished(), *layouts], casing_applied=casing_applied)


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
        return format_to_template(self.text, {f: values[f] for f in self.fields}, self.record.get("path", self.name))


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
    reader = Reader(spec, source, ref, accept_changed)
    layout, fields = RUBRIC_LAYOUTS[name]
    text = rendered(reader, spec.files[name], name)
    if layout == "user_format":
        try:
            present = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as ex:
            raise PublishedError(f"{spec.files[name].path}: not a valid str.format template ({ex})") from ex
        missing = [f for f in fields if f not in present]
        if missing:
            raise PublishedError(
                f"{spec.files[name].path}: the rubric has no {', '.join('{' + f + '}' for f in missing)} field, so the "
                "grader would never see what it grades"
            )
    top, *included = reader.finished()
    return PublishedRubric(name=name, text=text, layout=layout, fields=fields, record={**top, **({"includes": included} if included else {})})


# ------------------------------------------------------------------------------------------ checking a set

EXAMPLE_HEADING = re.compile(r"^## Example\b", re.MULTILINE)
"""How the published prompts head each few-shot example (``## Example``); counted by ``describe``."""


def describe(name: str, *, source: str | Path | None = None, ref: str = DEFAULT_REF) -> str:
    """What a published prompt set's system prompts are, measured on the files themselves (not on memory or a
    paper): characters after rendering, the number of ``## Example`` headings, every file read with its sha256."""
    spec = PROMPT_SETS[name]
    lines = [f"{name}: {spec.repo} ({spec.paper})"]
    for cot in (True, False):
        if f"system_{'cot' if cot else 'no_cot'}" not in spec.files:
            continue
        texts = load_prompt_set(name, cot=cot, conditions={"free": True, "paid": False}, source=source, ref=ref)
        lines.append(
            f"  {'CoT' if cot else 'no-CoT'} system prompt: {len(texts.system)} characters, "
            f"{len(EXAMPLE_HEADING.findall(texts.system))} '## Example' heading(s)"
        )
        lines += [f"    {f['path']}  {f['ref']}  sha256 {f['sha256']}" for f in texts.files if f["role"].startswith("system")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m alignment_faking.published", description=describe.__doc__.split("\n")[0])
    parser.add_argument("prompt_set", nargs="*", default=list(PROMPT_SETS), help=f"sets to describe (default: all): {', '.join(PROMPT_SETS)}")
    parser.add_argument("--source", help=f"a clone or a folder of clones (default: ${SOURCE_ENV}, else download)")
    parser.add_argument("--ref", default=DEFAULT_REF, help="the git ref to download at")
    args = parser.parse_args(argv)
    status = 0
    for name in args.prompt_set:
        try:
            print(describe(name, source=args.source, ref=args.ref))
        except (PublishedError, KeyError) as ex:
            print(f"{name}: {ex}", file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    raise SystemExit(main())


def published_rubrics(
    rubric_set: str, *, source: str | Path | None = None, ref: str = DEFAULT_REF, accept_changed: bool = False
) -> tuple[dict[str, dict[str, Any]] | None, list[dict[str, Any]]]:
    """The rubrics of ``rubric_set`` as the scorer takes them (``alignment_faking_scorer(rubrics=...)``: text,
    layout and fields by rubric file; None for ``ours``) and the records of the files read."""
    if rubric_set == OURS:
        return None, []
    loaded = [load_rubric(name, rubric_set, source=source, ref=ref, accept_changed=accept_changed) for name in RUBRIC_SETS[rubric_set].files]
    return {r.name: {"text": r.text, "layout": r.layout, "fields": list(r.fields)} for r in loaded}, [r.record for r in loaded]
