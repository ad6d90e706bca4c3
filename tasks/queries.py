"""Harmful-request datasets: the paper's, AdvBench, our built-in set, and any local or Hugging Face file.

Every remote source is pinned (a Hugging Face revision, a sha256 of the file's bytes), cached on first
use, and fails offline with a message naming the offline alternative (``-T dataset=builtin``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from alignment_faking.errors import SuiteError
from alignment_faking.paths import user_path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """``datasets/``: beside the packages in a checkout, inside ``alignment_faking`` once installed."""
    for candidate in (PACKAGE_ROOT / "datasets", PACKAGE_ROOT / "alignment_faking" / "datasets"):
        if (candidate / "builtin_requests.csv").is_file():
            return candidate
    raise FileNotFoundError(f"the datasets/ folder was not found under {PACKAGE_ROOT}")


# The paper's queries (Sheshadri et al. 2025 §3.1): LLM-LAT/harmful-dataset, `prompt` column, train split.
LAT_PATH = "LLM-LAT/harmful-dataset"
LAT_REVISION = "8bfba31bc6d93a5b71808fee5275ef4b6330ed91"
# Greenblatt et al.'s minimal reproduction (App. B.4): AdvBench harmful_behaviors.csv, `goal` column.
ADVBENCH_URL = (
    "https://raw.githubusercontent.com/llm-attacks/llm-attacks/main/data/advbench/harmful_behaviors.csv"
)
ADVBENCH_SHA256 = "6cd1a5c63c07610d7eb67307772ee5606017ee950b5770ab288a2c487489d3e1"

NAMED_DATASETS = {
    "builtin": "our own ~100 harmful requests, shipped with the package (offline)",
    "lat": f"{LAT_PATH} at revision {LAT_REVISION[:10]}, the paper's queries (needs the network once)",
    "advbench": "AdvBench harmful_behaviors.csv (sha256-pinned), Greenblatt et al.'s minimal setting",
}
TEXT_COLUMNS = ("prompt", "goal", "query", "user_query")
MISSING_QUERY = "(the request was not recorded)"


class DatasetError(SuiteError):
    """A dataset cannot be found, read or used."""


RECORDED_FIELDS = ("response", "strongreject_reply", "af_replies", "partial_reply")
"""Optional columns of a local file that replay a recorded run: the model's transcript and the graders'
replies. A row with ``response`` is not sent to the model; a row with grader replies is not sent to the
grader. Such rows usually also name their ``condition`` (alias ``tier``)."""


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    source: str
    category: str | None = None
    condition: str | None = None
    """Only this condition (rows of recorded transcripts); None crosses the query with every condition."""
    recorded: dict[str, Any] = field(default_factory=dict)


RECORDED_ALIASES = {"raw_response": "response"}
"""Column names of the transcript files in ``shared/fixtures`` and the papers' pipelines."""


def _recorded(record: dict[str, Any]) -> dict[str, Any]:
    record = {RECORDED_ALIASES.get(k, k): v for k, v in record.items()}
    labels = record.get("labels")
    if isinstance(labels, dict) and labels.get("strong_reject_raw_output") and "strongreject_reply" not in record:
        record["strongreject_reply"] = labels["strong_reject_raw_output"]
    recorded = {k: record[k] for k in RECORDED_FIELDS if record.get(k) not in (None, "")}
    replies = recorded.get("af_replies")
    if isinstance(replies, str):
        try:
            decoded = json.loads(replies)
        except json.JSONDecodeError:
            decoded = replies
        recorded["af_replies"] = decoded if isinstance(decoded, list) else [replies]
    return recorded


def cache_dir() -> Path:
    root = os.environ.get("ALIGNMENT_FAKING_CACHE") or Path.home() / ".cache" / "alignment_faking"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def queries_from_records(
    records: Iterable[dict[str, Any]], *, source: str, id_prefix: str, content_ids: bool = False
) -> list[Query]:
    """Turn rows into queries: the text from ``prompt``, ``goal``, ``query`` or ``user_query``; the id from
    ``id`` when present, otherwise ``<id_prefix><row number>``, or with ``content_ids`` a digest of the
    text (so the free and paid rows of one request in a file of recorded transcripts pair up; repeats get
    ``-2``, ``-3``…). Blank texts and duplicate explicit ids are errors."""
    queries: list[Query] = []
    seen: set[tuple[str, str | None]] = set()
    for row_number, record in enumerate(records, start=1):
        column = next((c for c in TEXT_COLUMNS if c in record), None)
        if column is None:
            raise DatasetError(
                f"{source}: row {row_number} has no text column; expected one of "
                f"{', '.join(TEXT_COLUMNS)} (found: {', '.join(map(str, record)) or 'none'})"
            )
        text = record[column]
        recorded = _recorded(record)
        if (not isinstance(text, str) or not text.strip()) and "response" in recorded:
            text = MISSING_QUERY
        if not isinstance(text, str) or not text.strip():
            raise DatasetError(f"{source}: row {row_number} has an empty '{column}'")
        raw_id = record.get("id")
        condition = record.get("condition") or record.get("tier") or None
        if condition == "unknown":
            condition = None
        if raw_id not in (None, ""):
            query_id = str(raw_id).strip()
        elif content_ids:
            base = id_prefix + hashlib.sha256(text.strip().encode()).hexdigest()[:8]
            query_id, repeat = base, 1
            while (query_id, condition) in seen:
                repeat += 1
                query_id = f"{base}-{repeat}"
        else:
            query_id = f"{id_prefix}{row_number:04d}"
        if "__" in query_id:
            raise DatasetError(f"{source}: id '{query_id}' contains '__', which separates id and condition")
        if (query_id, condition) in seen:
            where = f" for condition '{condition}'" if condition else ""
            raise DatasetError(
                f"{source}: duplicate id '{query_id}'{where} (row {row_number}); ids must be unique (a file of "
                "recorded transcripts may repeat an id once per condition, with a condition or tier column)"
            )
        seen.add((query_id, condition))
        category = record.get("category")
        queries.append(
            Query(
                query_id,
                text.strip(),
                source,
                str(category) if category else None,
                str(condition) if condition else None,
                recorded,
            )
        )
    if not queries:
        raise DatasetError(
            f"{source}: the dataset has no rows; it needs at least one row with a {'/'.join(TEXT_COLUMNS)} column"
        )
    return queries


def read_local_file(path: Path) -> list[dict[str, Any]]:
    """Rows of a local CSV, JSONL or JSON (a list of objects) file."""
    if not path.is_file():
        raise DatasetError(
            f"dataset file '{path}' does not exist; give an existing .csv/.jsonl/.json file, or one of "
            f"{', '.join(NAMED_DATASETS)}"
        )
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8-sig")
    try:
        if suffix == ".csv":
            return list(csv.DictReader(io.StringIO(text, newline="")))
        if suffix == ".jsonl":
            # split on newlines only: str.splitlines() would also cut at U+2028 inside a JSON string
            return [json.loads(line) for line in text.split("\n") if line.strip()]
        if suffix == ".json":
            data = json.loads(text)
            if isinstance(data, list):
                return data
            raise DatasetError(f"{path}: a .json dataset must be a list of objects")
    except (json.JSONDecodeError, csv.Error) as ex:
        raise DatasetError(f"{path}: could not be parsed ({ex})") from ex
    raise DatasetError(f"{path}: unsupported file type '{suffix}'; use .csv, .jsonl or .json")


def load_builtin() -> list[Query]:
    rows = read_local_file(data_dir() / "builtin_requests.csv")
    rows = [r for r in rows if r.get("category") != "benign_control"]
    return queries_from_records(rows, source="builtin", id_prefix="b")


def fetch_pinned(url: str, sha256: str, *, name: str) -> Path:
    """Download ``url`` once into the cache and check its sha256; fail clearly when offline."""
    stem, dot, suffix = name.rpartition(".")
    target = cache_dir() / (f"{stem}-{sha256[:12]}.{suffix}" if dot else f"{name}-{sha256[:12]}")
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == sha256:
        return target
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            payload = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as ex:
        raise DatasetError(
            f"could not download {name} from {url} ({ex}). Offline, use -T dataset=builtin, or give a "
            f"local copy with -T dataset=path/to/file.csv"
        ) from ex
    digest = hashlib.sha256(payload).hexdigest()
    if digest != sha256:
        raise DatasetError(f"{name} from {url} has sha256 {digest}, expected the pinned {sha256}")
    target.write_bytes(payload)
    return target


def load_advbench() -> list[Query]:
    path = fetch_pinned(ADVBENCH_URL, ADVBENCH_SHA256, name="advbench_harmful_behaviors.csv")
    return queries_from_records(read_local_file(path), source="advbench", id_prefix="advbench-")


def hf_records(
    path: str, revision: str | None, *, split: str = "train", limit: int | None = None, offline: str
) -> list[dict[str, Any]]:
    """Rows of a Hugging Face dataset through Inspect's ``hf_dataset`` (needs the ``hf`` extra); a failure
    is a ``DatasetError`` that says whether to install the extra or what to use offline (``offline``)."""
    from inspect_ai.dataset import Sample, hf_dataset

    try:
        dataset = hf_dataset(
            path,
            split=split,
            revision=revision,
            sample_fields=lambda record: Sample(input="", metadata=dict(record)),
            limit=limit,
        )
    except Exception as ex:
        missing_library = isinstance(ex, ImportError) or "pip install" in str(ex)
        first = "install the Hugging Face extra: pip install 'alignment_faking[hf]'" if missing_library else "check the network"
        hint = f"{first}, or {offline}"
        raise DatasetError(f"could not load Hugging Face dataset '{path}' ({type(ex).__name__}: {ex}); {hint}") from ex
    return [dict(sample.metadata or {}) for sample in dataset]


def load_huggingface(
    path: str, revision: str | None, *, limit: int | None, split: str = "train", source: str
) -> list[Query]:
    """Queries from a Hugging Face dataset."""
    records = hf_records(path, revision, split=split, limit=limit, offline="work offline with -T dataset=builtin or a local file")
    return queries_from_records(records, source=source, id_prefix="lat-" if path == LAT_PATH else "hf-")


def load_queries(dataset: str, limit: int | None = None) -> list[Query]:
    """Resolve ``-T dataset=...``: a named set, a local file, or ``hf:owner/name[@revision]``.

    The first ``limit`` queries are kept (the paper takes the first N of its dataset).
    """
    if limit is not None and limit < 1:
        raise DatasetError(f"limit must be a positive number of queries, got {limit}")
    name = dataset.strip()
    if name == "builtin":
        queries = load_builtin()
    elif name == "lat":
        queries = load_huggingface(LAT_PATH, LAT_REVISION, limit=limit, source="lat")
    elif name == "advbench":
        queries = load_advbench()
    elif name.startswith("hf:"):
        spec = name[3:]
        repo, _, revision = spec.partition("@")
        queries = load_huggingface(repo, revision or None, limit=limit, source=name)
    elif Path(name).suffix.lower() in (".csv", ".jsonl", ".json"):
        path = user_path(name)
        queries = queries_from_records(read_local_file(path), source=str(path), id_prefix="q", content_ids=True)
    else:
        choices = "; ".join(f"'{k}' ({v})" for k, v in NAMED_DATASETS.items())
        raise DatasetError(
            f"unknown dataset '{dataset}'. Choose one of: {choices}; a local .csv/.jsonl/.json file with a "
            f"{'/'.join(TEXT_COLUMNS)} column and an optional id; or hf:owner/name@revision"
        )
    return queries[:limit] if limit else queries
