"""Data files of the newer settings, read at run time: ours (offline), a local file, or the published file.

``dataset`` is one of:

- ``ours`` (the default): our own few scenarios in the published layout, shipped in ``datasets/`` with a
  ``.sha256`` beside each file; a file whose bytes no longer match is refused (a tampered or half-edited copy
  never passes as ours).
- ``published``: the authors' file, from a local clone (``source=`` or the ``ALIGNMENT_FAKING_SETTING_SOURCE``
  environment variable: the clone itself or a folder holding clones named after the repositories; the record
  names the clone's commit), else downloaded once at a pinned commit by ``published.fetch_file``, the suite's
  one download route (``<base>/<owner>/<repo>/<ref>/<path>``, ``<base>`` raw.githubusercontent.com unless
  ``ALIGNMENT_FAKING_SETTING_URL`` or ``ALIGNMENT_FAKING_PUBLISHED_URL`` names a mirror), cached with the
  published prompts in ``$ALIGNMENT_FAKING_CACHE/published``. Its sha256 is remembered there like theirs: a
  cached copy whose bytes changed is refused.
- a path to a ``.json`` file of the user's in the same layout.

Every read is recorded (what, where from, ref, sha256) for the task's metadata, so the log says which bytes
were used; ``sha256=`` pins the expected digest and refuses any other file. Nothing here copies published
data: the published file is read from where the user has it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from alignment_faking.errors import SuiteError
from alignment_faking.paths import user_path
from alignment_faking.published import PinnedFile, PublishedError, clone_root, fetch_file, git_commit, read_pinned_beside, remember

_ROOT = Path(__file__).resolve().parent.parent
DATASETS = next((d for d in (_ROOT / "datasets", _ROOT / "alignment_faking" / "datasets") if d.is_dir()), _ROOT / "datasets")
"""``datasets/``: beside the packages in a checkout, inside ``alignment_faking`` once installed."""
SOURCE_ENV = "ALIGNMENT_FAKING_SETTING_SOURCE"
URL_ENV = "ALIGNMENT_FAKING_SETTING_URL"


class SettingDataError(SuiteError):
    """A setting's data file is missing, changed, or not in the expected layout."""


PublishedFile = PinnedFile
"""A setting's published file: ``PublishedFile(repo, path, commit)`` (a commit, pinned: a branch would move under
the recorded digest), the same ``PinnedFile`` the published prompts are fetched by."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ours(name: str) -> tuple[bytes, dict[str, Any]]:
    try:
        data = read_pinned_beside(DATASETS / name, f"datasets/{name}")
    except PublishedError as ex:
        raise SettingDataError(f"{ex}; restore it (git checkout datasets/{name}) or pass your copy as a path") from None
    return data, {"source": f"ours:datasets/{name}"}


def _local_clone(spec: PublishedFile, source: str) -> tuple[bytes, dict[str, Any]]:
    folder = user_path(source)
    root = clone_root(folder, spec.repo, spec.path)
    if root is None:
        raise SettingDataError(f"{spec.path} of {spec.repo} is not in {folder}; clone https://github.com/{spec.repo} there, or run offline with dataset=ours")
    return (root / spec.path).read_bytes(), {"source": f"local:{(root / spec.path).resolve()}", "ref": git_commit(root) or "local copy (not a git clone)"}


def _download(spec: PublishedFile) -> tuple[bytes, dict[str, Any]]:
    """The published file through ``published.fetch_file`` (downloaded once, cached with the published prompts);
    a cached copy whose bytes changed since the download is refused."""
    try:
        data, url = fetch_file(spec, base_url=os.environ.get(URL_ENV), alternative=f"source=<the clone> (or set {SOURCE_ENV}), or run offline with dataset=ours")
        remember(spec.key, sha256_of(data), f"{spec.path} of {spec.repo} at {spec.ref}",
                 hint=f"delete {spec.cached()} to download it again (if the download differs too, the file served at that commit is not the one first read)")
    except PublishedError as ex:
        raise SettingDataError(str(ex)) from None
    return data, {"source": url, "ref": spec.ref}


def read_setting_bytes(dataset: str, *, ours: str, published: PublishedFile, source: str | None = None, sha256: str | None = None) -> tuple[bytes, dict[str, Any]]:
    """The bytes of the chosen file and its record (source, ref, sha256)."""
    if dataset == "ours":
        data, record = _ours(ours)
    elif dataset == "published":
        local = source or os.environ.get(SOURCE_ENV)
        data, record = _local_clone(published, local) if local else _download(published)
        record["repo"], record["path"] = published.repo, published.path
    else:
        path = user_path(dataset)
        if not path.is_file():
            raise SettingDataError(f"dataset {dataset} is not a file; choose ours, published, or a path to a .json file in the published layout")
        data, record = path.read_bytes(), {"source": f"file:{path.resolve()}"}
    record["sha256"] = sha256_of(data)
    if sha256 and sha256.lower() != record["sha256"]:
        raise SettingDataError(f"{record['source']} has sha256 {record['sha256']}, not the pinned {sha256}; it was changed, or pin the new digest")
    return data, record


def read_setting_file(dataset: str, *, ours: str, published: PublishedFile, source: str | None = None, sha256: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The parsed JSON of the chosen file and its record (source, ref, sha256)."""
    data, record = read_setting_bytes(dataset, ours=ours, published=published, source=source, sha256=sha256)
    try:
        return json.loads(data.decode("utf-8-sig")), record
    except (UnicodeDecodeError, json.JSONDecodeError) as ex:
        raise SettingDataError(f"{record['source']} is not UTF-8 JSON ({ex})") from None


def python_string(data: bytes, name: str, where: str) -> str:
    """The value of a module-level ``NAME = "..."`` string in Python source, read with ``ast`` (never run)."""
    import ast

    try:
        tree = ast.parse(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, SyntaxError) as ex:
        raise SettingDataError(f"{where} is not readable Python ({ex})") from None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
    raise SettingDataError(f"{where} has no string constant {name}; pass the prompt as a text file instead")
