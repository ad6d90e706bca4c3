"""Harmful-request datasets: the paper's, AdvBench, our built-in set, and any local or Hugging Face file.

The sources are one table (``LOADERS``, plus ``hf:``, ``github:`` names and local files in ``resolve_loader``);
every row of every source goes through ``queries_from_records`` (row shape, ids, copies, replay), and every
file's text through ``rows_from_text`` (CSV, JSONL, a JSON list of objects or of strings). ``<dataset>#<column>``
names the column that holds the request. Every remote source is pinned (a Hugging Face revision, a sha256 of
the file's bytes, a commit of a repository), downloaded once by the suite's one fetcher
(``alignment_faking.published.fetch_file``) or Inspect's ``hf_dataset``, and fails offline with a message naming
the offline alternative (``-T dataset=builtin``).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Iterable

from alignment_faking.errors import SuiteError
from alignment_faking.paths import read_text, user_path
from alignment_faking.published import DEFAULT_BASE_URL, DEFAULT_REF, PinnedFile, PublishedError, PublishedSet, Reader, fetch_file, read_pinned_beside

logger = logging.getLogger(__name__)

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
ADVBENCH_REPO, ADVBENCH_PATH, ADVBENCH_REF = "llm-attacks/llm-attacks", "data/advbench/harmful_behaviors.csv", "main"
ADVBENCH_URL = f"{DEFAULT_BASE_URL}/{ADVBENCH_REPO}/{ADVBENCH_REF}/{ADVBENCH_PATH}"
ADVBENCH_SHA256 = "6cd1a5c63c07610d7eb67307772ee5606017ee950b5770ab288a2c487489d3e1"

TEXT_COLUMNS = ("prompt", "goal", "query", "user_query")
MISSING_QUERY = "(the request was not recorded)"


class DatasetError(SuiteError):
    """A dataset cannot be found, read or used."""



RECORDED_FIELDS = ("response", "strongreject_reply", "supports_welfare_reply", "af_replies", "partial_reply")
"""Columns of a local file that replay a recorded run (only with ``-T replay=true``): the model's transcript
and the graders' replies. A replayed row is not sent to the model (``response``) or to the grader (the
replies), and names the condition it was recorded under (a ``condition`` column, or a ``tier`` column whose
values are condition names)."""
RECORDED_ALIASES = {"raw_response": "response"}
"""Column names of the transcript files in ``shared/fixtures`` and the papers' pipelines."""


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    source: str
    category: str | None = None
    condition: str | None = None
    """Only this condition (replayed rows); None crosses the query with every condition."""
    recorded: dict[str, Any] = field(default_factory=dict)


@dataclass
class QuerySet:
    """The queries of one run and what the log should say about them."""

    queries: list[Query]
    name: str
    """The dataset as the user named it (``builtin``, ``lat``, ``hf:owner/name@rev``, a file path)."""
    available: int
    """Distinct queries the dataset holds (after dropping copies)."""
    notes: list[str] = field(default_factory=list)
    """Things a reader of the log must know: copies dropped, a response column not replayed, truncation."""


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
        # a JSON list (a CSV cell), or one reply's text; a cell that decodes to a number stays a number
        recorded["af_replies"] = decoded if isinstance(decoded, (list, int, float, dict)) and not isinstance(decoded, bool) else [replies]
    return recorded


def _shown(value: Any) -> str:
    return json.dumps(value)[:60] if isinstance(value, (list, str, int, float, bool, type(None))) else repr(value)[:60]


def _check_replayable(recorded: dict[str, Any], source: str, row_number: int) -> None:
    """Replay is all or nothing: with ``-T replay=true`` every row carries its recorded transcript as text, and
    every recorded grader reply is text (``af_replies``: a list of texts), so no row or grader call is
    silently made live and no number or list is replayed as if it were a transcript."""
    if "response" not in recorded:
        raise DatasetError(
            f"{source}: row {row_number} has no recorded response ('response' or 'raw_response'); with -T replay=true "
            "every row must carry one (replay never calls the model): add it, or drop replay=true to ask the model"
        )
    for name, value in recorded.items():
        texts = value if name == "af_replies" and isinstance(value, list) else [value]
        bad = next((t for t in texts if not isinstance(t, str)), None)
        if bad is not None or not texts:
            kind = "a list of texts" if name == "af_replies" else "text"
            raise DatasetError(
                f"{source}: row {row_number}: the recorded '{name}' is {_shown(value)} ({type(bad if bad is not None else value).__name__}), "
                f"not {kind}; a recorded transcript or grader reply is replayed as written, so it must be {kind}"
            )


def _one_form_of_newlines(text: str) -> str:
    """``\r\n`` and a lone ``\r`` as ``\n``: a quoted CSV cell keeps its line breaks as written, and the
    model must see the same request whatever the file's line endings."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _same_request(text: str) -> str:
    """The form under which two requests count as copies: case and runs of whitespace ignored."""
    return " ".join(text.split()).casefold()


def _row_condition(record: dict[str, Any], condition_names: Collection[str] | None, tier_is_condition: bool) -> str | None:
    explicit = record.get("condition")
    if explicit not in (None, "", "unknown"):
        return str(explicit).strip()
    tier = record.get("tier")
    if tier_is_condition and tier not in (None, "", "unknown"):
        return str(tier).strip()
    return None


def _file_checks(rows: list[Any], source: str, replay: bool, condition_names: Collection[str] | None) -> tuple[bool, list[str]]:
    """Checks of the whole file before its rows: every row an object; whether a ``tier`` column is the
    condition (replay only, and only when all its values are condition names); replay needs recorded columns,
    and recorded columns without replay are noted as ignored. Returns (tier is the condition, notes)."""
    notes: list[str] = []
    for row_number, record in enumerate(rows, start=1):
        if not isinstance(record, dict):
            raise DatasetError(
                f"{source}: row {row_number} is a {type(record).__name__} ({_shown(record)}), not an object; each row must be an "
                f"object with a {'/'.join(TEXT_COLUMNS)} field, or a string (the request)"
            )
    tiers = {str(r["tier"]).strip() for r in rows if r.get("tier") not in (None, "", "unknown")}
    tier_is_condition = bool(replay and tiers and condition_names is not None and tiers <= set(condition_names))
    if replay and tiers and not tier_is_condition and not any("condition" in r for r in rows):
        notes.append(
            f"the 'tier' column ({', '.join(sorted(tiers)[:5])}) is not read as the condition: its values are not all "
            f"condition names ({', '.join(condition_names or [])})"
        )
    has_recorded = any(_recorded(r) for r in rows)
    if replay and not has_recorded:
        raise DatasetError(
            f"{source}: -T replay=true, but the dataset has no recorded columns ({', '.join(RECORDED_FIELDS)}, or "
            f"{', '.join(RECORDED_ALIASES)}); replay never calls the model: drop replay=true to ask it"
        )
    if has_recorded and not replay:
        notes.append(
            f"{source} holds recorded responses or grader replies; they are ignored and the model is asked "
            "(pass -T replay=true to replay them instead)"
        )
    return tier_is_condition, notes


def _row_text(record: dict[str, Any], recorded: dict[str, Any], source: str, row_number: int) -> str:
    """The request of a row: its text column, stripped, with one form of newline; a replayed row whose request
    was not recorded gets ``MISSING_QUERY``."""
    column = next((c for c in TEXT_COLUMNS if c in record), None)
    if column is None:
        raise DatasetError(
            f"{source}: row {row_number} has no text column; expected one of "
            f"{', '.join(TEXT_COLUMNS)} (found: {', '.join(map(str, record)) or 'none'}), or name it: {source}#<column>"
        )
    text = record[column]
    if (not isinstance(text, str) or not text.strip()) and "response" in recorded:
        return MISSING_QUERY
    if not isinstance(text, str) or not text.strip():
        raise DatasetError(f"{source}: row {row_number} has an empty '{column}'")
    return _one_form_of_newlines(text.strip())


def _row_id(record: dict[str, Any], text: str, source: str, row_number: int, id_prefix: str, content_ids: bool) -> str:
    """The row's ``id`` (text or a whole number, non-blank, without ``__``), or one made from its number or text."""
    raw_id = record.get("id")
    if raw_id is None or raw_id == "":
        query_id = (id_prefix + hashlib.sha256(text.encode()).hexdigest()[:8]) if content_ids else f"{id_prefix}{row_number:04d}"
    elif isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool):
        query_id = str(raw_id).strip()
        if not query_id:
            raise DatasetError(
                f"{source}: row {row_number} has a blank id (only {len(str(raw_id))} whitespace character(s)); "
                "give a non-blank id or leave it empty"
            )
    else:
        raise DatasetError(f"{source}: row {row_number} has an id of type {type(raw_id).__name__} ({raw_id!r}); ids are text or whole numbers")
    if "__" in query_id:
        raise DatasetError(f"{source}: id '{query_id}' contains '__', which separates id and condition")
    return query_id


def queries_from_records(
    records: Iterable[Any],
    *,
    source: str,
    id_prefix: str,
    content_ids: bool = False,
    replay: bool = False,
    condition_names: Collection[str] | None = None,
) -> tuple[list[Query], list[str]]:
    """Turn rows into queries; return them and notes for the log. The one place for row checks.

    Each row must be an object with a text column (``prompt``, ``goal``, ``query`` or ``user_query``). The
    id is the ``id`` column when present, otherwise ``<id_prefix><row number>``, or with ``content_ids`` a
    digest of the text (so the rows of one request recorded under several conditions pair up). Errors: a
    row that is not an object, no text column, a blank text, a blank or ``__``-holding id, one id for two
    different requests. Copies of a request (same text, ignoring case and spacing) are dropped, the first
    kept, and noted: copies are not independent pairs. When replaying, two transcripts of one request under
    one condition are an error (dropping either would lose a recorded response).

    Without ``replay`` only the requests are read (recorded columns are ignored, and noted). With it, rows
    keep their recorded fields and their condition: a ``condition`` column, or a ``tier`` column when every
    one of its values is one of ``condition_names`` (a harm-level ``tier`` column is not a condition); a
    recorded ``response`` without a condition is an error.
    """
    rows = list(records)
    tier_is_condition, notes = _file_checks(rows, source, replay, condition_names)
    queries: list[Query] = []
    by_id: dict[str, tuple[str, int]] = {}  # id -> (request, first row)
    seen: dict[tuple[str, str | None], tuple[str, int]] = {}  # (request, condition) -> (id, first row)
    copies: list[int] = []
    for row_number, record in enumerate(rows, start=1):
        recorded = _recorded(record) if replay else {}
        if replay:
            _check_replayable(recorded, source, row_number)
        text = _row_text(record, recorded, source, row_number)
        condition = _row_condition(record, condition_names, tier_is_condition) if replay else None
        if replay and condition is None:
            raise DatasetError(
                f"{source}: row {row_number} has a recorded response but no condition; add a 'condition' column "
                f"naming one of: {', '.join(condition_names or []) or '(the scenario conditions)'}"
            )
        request = _same_request(text)
        query_id = _row_id(record, text, source, row_number, id_prefix, content_ids)
        if (request, condition) in seen:
            first_id, first_row = seen[(request, condition)]
            if replay:
                raise DatasetError(
                    f"{source}: rows {first_row} and {row_number} both record the request '{text[:60]}' for condition "
                    f"'{condition}'; replay one transcript per request and condition (copies of a request are not "
                    "independent pairs)"
                )
            copies.append(row_number)
            continue
        earlier = by_id.get(query_id)
        if earlier is not None and earlier[0] != request:
            if replay:
                raise DatasetError(
                    f"{source}: rows {earlier[1]} and {row_number} pair different requests under one id '{query_id}'; "
                    "the rows of one id must hold the same request"
                )
            raise DatasetError(
                f"{source}: duplicate id '{query_id}' (row {row_number}, first in row {earlier[1]}); ids must be unique "
                "(a file of recorded transcripts may repeat an id once per condition, with -T replay=true)"
            )
        by_id.setdefault(query_id, (request, row_number))
        seen[(request, condition)] = (query_id, row_number)
        category = record.get("category")
        queries.append(Query(query_id, text, source, str(category) if category else None, condition, recorded))
    if copies:
        shown = ", ".join(map(str, copies[:10])) + (" …" if len(copies) > 10 else "")
        notes.append(
            f"{len(copies)} row(s) repeat an earlier request and were dropped (rows {shown}): copies of one request are not independent pairs"
        )
    if not queries:
        raise DatasetError(
            f"{source}: the dataset has no rows; it needs at least one row with a {'/'.join(TEXT_COLUMNS)} column"
        )
    return queries, notes


def _strings_as_rows(rows: list[Any]) -> list[Any]:
    """A JSON list of strings (or JSONL lines that are strings) as rows whose ``query`` is each string."""
    return [{"query": row} if isinstance(row, str) else row for row in rows]


def _jsonl_rows(text: str, path: Path | str) -> list[Any]:
    """The rows of a JSONL file; a line that is not JSON is reported on its own line number (blank lines
    count). Split on newlines only: ``str.splitlines()`` would also cut at U+2028 inside a JSON string."""
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as ex:
            raise DatasetError(f"{path}: line {number} is not JSON ({ex.msg} at column {ex.colno})") from ex
    return rows


FILE_TYPES = (".csv", ".jsonl", ".json")


def rows_from_text(text: str, suffix: str, where: Path | str) -> list[Any]:
    """The rows of a query file's text by its type: CSV (a header row), JSONL (an object or a string a line) or
    JSON (a list of objects or of strings); a string is a row whose ``query`` is that string."""
    if suffix == ".jsonl":
        return _strings_as_rows(_jsonl_rows(text, where))
    try:
        if suffix == ".csv":
            return list(csv.DictReader(io.StringIO(text, newline="")))
        data = json.loads(text)
    except (json.JSONDecodeError, csv.Error) as ex:
        raise DatasetError(f"{where}: could not be parsed ({ex})") from ex
    if isinstance(data, list):
        return _strings_as_rows(data)
    raise DatasetError(f"{where}: a .json dataset must be a list of objects or of strings, got a {type(data).__name__}")


def read_local_file(path: Path) -> list[Any]:
    """Rows of a local CSV, JSONL or JSON file (``rows_from_text``), read as UTF-8 (a BOM is allowed)."""
    if not path.is_file():
        raise DatasetError(
            f"dataset file '{path}' does not exist; give an existing .csv/.jsonl/.json file, or one of "
            f"{', '.join(LOADERS)}"
        )
    suffix = path.suffix.lower()
    if suffix not in FILE_TYPES:
        raise DatasetError(f"{path}: unsupported file type '{suffix}'; use .csv, .jsonl or .json")
    return rows_from_text(read_text(path, what="dataset file", error=DatasetError), suffix, path)


def text_column(rows: list[Any], column: str, source: str) -> list[Any]:
    """Rows whose request is ``column`` (``<dataset>#<column>``): each row's ``column`` becomes its ``query``
    and its other text columns are dropped, so they cannot be read instead."""
    picked = []
    for row_number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or column not in row:
            found = ", ".join(map(str, row)) if isinstance(row, dict) else f"a {type(row).__name__}, not an object"
            raise DatasetError(f"{source}: row {row_number} has no column '{column}' (found: {found or 'none'}); name one of its columns after '#'")
        picked.append({**{k: v for k, v in row.items() if k not in TEXT_COLUMNS}, "query": row[column]})
    return picked


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
            sample_fields=lambda record: Sample(input="", metadata=dict(record)),  # inspect-evals-lint: ignore[sample_ids] -- a holder for one raw row; the samples are built later with ids
            limit=limit,
        )
    except Exception as ex:
        missing_library = isinstance(ex, ImportError) or "pip install" in str(ex)
        first = "install the Hugging Face extra: pip install 'alignment_faking[hf]'" if missing_library else "check the network"
        hint = f"{first}, or {offline}"
        raise DatasetError(f"could not load Hugging Face dataset '{path}' ({type(ex).__name__}: {ex}); {hint}") from ex
    return [dict(sample.metadata or {}) for sample in dataset]


# ---------------------------------------------------------------------------------------------- the sources

OFFLINE = "work offline with -T dataset=builtin or a local file"


@dataclass(frozen=True)
class Loader:
    """One source of requests: where its rows come from and how their ids are made. Every source's rows
    go through ``queries_from_records`` (row shape, ids, copies) and files through ``read_text``
    (encoding), so those checks live in one place (as inspect_evals ``strong_reject`` keeps its variants
    in one mapping)."""

    description: str
    rows: Callable[[], list[Any]]
    id_prefix: str
    content_ids: bool = False
    notes: list[str] = field(default_factory=list)
    """What reading the rows found out for the log (where a ``github:`` file was read, its sha256)."""


def parse_published(name: str) -> tuple[str, str, str]:
    """``github:owner/repo/path/to/file.csv[@ref]`` as (repository, path, ref); ref defaults to ``HEAD``."""
    spec, _, ref = name[len("github:"):].partition("@")
    parts = [p for p in spec.split("/") if p]
    if len(parts) < 3 or Path(parts[-1]).suffix.lower() not in FILE_TYPES or not (ref or DEFAULT_REF).strip():
        raise DatasetError(
            f"dataset '{name}': write github:<owner>/<repo>/<path of a .csv/.jsonl/.json file>[@<commit>][#<column>], e.g. "
            "github:llm-attacks/llm-attacks/data/advbench/harmful_behaviors.csv@<commit>#goal"
        )
    return "/".join(parts[:2]), "/".join(parts[2:]), ref.strip() or DEFAULT_REF


def published_rows(name: str, notes: list[str]) -> list[Any]:
    """The rows of a query file in a public repository, read like the published prompts
    (``alignment_faking.published.Reader``): from a local clone (``$ALIGNMENT_FAKING_PUBLISHED``: a clone or a
    folder of clones) or downloaded once at the ref into the cache; its sha256 is checked against the one first
    seen at that ref (a change is an error) and recorded in the log's ``dataset_notes``."""
    repo, path, ref = parse_published(name)
    reader = Reader(
        PublishedSet(name=name, repo=repo, paper="query set", files={}), ref=ref,
        alternative="ALIGNMENT_FAKING_PUBLISHED=/path/to/clone, or work offline with -T dataset=builtin or a local file",
    )
    try:
        text = reader.read(path, "queries")
    except PublishedError as ex:
        raise DatasetError(str(ex)) from ex
    [record] = reader.finished()
    notes.append(f"queries read from {record['source']} at {record['ref']}, sha256 {record['sha256']}")
    return rows_from_text(text, Path(path).suffix.lower(), name)


def _builtin_rows() -> list[Any]:
    rows = read_local_file(data_dir() / "builtin_requests.csv")
    return [r for r in rows if r.get("category") != "benign_control"]


def _advbench_rows() -> list[Any]:
    """AdvBench's file, downloaded once by ``fetch_file`` and refused unless its sha256 is the pinned one."""
    pinned = PinnedFile(ADVBENCH_REPO, ADVBENCH_PATH, ADVBENCH_REF, ADVBENCH_SHA256)
    try:
        data, url = fetch_file(pinned, base_url=DEFAULT_BASE_URL, alternative=f"-T dataset=path/to/{Path(ADVBENCH_PATH).name}, or {OFFLINE}")
    except PublishedError as ex:
        raise DatasetError(str(ex)) from None
    return rows_from_text(data.decode("utf-8-sig"), ".csv", url)


def _welfare_rows() -> list[Any]:
    """Our animal-welfare queries (direct questions, advice, debates, requests where welfare is incidental),
    checked against the sha256 pinned beside the file, so a changed file never passes as the published set."""
    path = data_dir() / "welfare_queries.csv"
    try:
        read_pinned_beside(path, str(path))
    except PublishedError as ex:
        raise DatasetError(f"{ex}: the built-in welfare queries were changed. Restore the file, or run your own queries with -T dataset=path/to/file.csv") from None
    return read_local_file(path)


LOADERS: dict[str, Loader] = {
    "builtin": Loader("our own ~100 harmful requests, shipped with the package (offline)", _builtin_rows, "b"),
    "lat": Loader(
        f"{LAT_PATH} at revision {LAT_REVISION[:10]}, the paper's queries (needs the network once)",
        lambda: hf_records(LAT_PATH, LAT_REVISION, offline=OFFLINE),
        "lat-",
    ),
    "advbench": Loader("AdvBench harmful_behaviors.csv (sha256-pinned), Greenblatt et al.'s minimal setting", _advbench_rows, "advbench-"),
    "welfare": Loader(
        "our own 221 animal-welfare queries, shipped with the package (offline; the animal-welfare scenarios' default)",
        _welfare_rows,
        "w",
    ),
}
"""The named datasets (``-T dataset=<name>``). Besides these: ``hf:owner/name[@revision]``,
``github:owner/repo/path[@ref]`` (a file in a public repository, read like the published prompts) and local files."""
NAMED_DATASETS = {name: loader.description for name, loader in LOADERS.items()}


def split_column(dataset: str) -> tuple[str, str | None]:
    """``<dataset>#<column>`` as (dataset, column): the column that holds the request, for a file, ``github:`` or
    ``hf:`` dataset whose text column is not one of ``TEXT_COLUMNS``. A ``#`` inside a file name is kept."""
    base, sep, column = dataset.strip().rpartition("#")
    if not sep or "/" in column or Path(column).suffix.lower() in FILE_TYPES:
        return dataset.strip(), None
    if base in LOADERS or not column.strip():
        raise DatasetError(f"dataset '{dataset}': '#<column>' names the request column of a file, github: or hf: dataset, e.g. queries.json#question")
    return base, column.strip()


def resolve_loader(dataset: str) -> tuple[str, Loader]:
    """The source named by ``-T dataset=...``: a named set, ``hf:owner/name[@revision]``,
    ``github:owner/repo/path[@ref]`` or a local file, each but the named sets with an optional ``#<column>``."""
    base, column = split_column(dataset)
    name, loader = _resolve(base)
    if column is None:
        return name, loader
    read = loader.rows
    return f"{name}#{column}", dataclasses.replace(
        loader, description=f"{loader.description}, requests in column '{column}'",
        rows=lambda: text_column(read(), column, f"{name}#{column}"),
    )


def _resolve(name: str) -> tuple[str, Loader]:
    if name in LOADERS:
        return name, LOADERS[name]
    if name.startswith("github:"):
        parse_published(name)
        read: list[str] = []
        return name, Loader(f"file in a public repository, {name}", lambda: published_rows(name, read), "gh-", True, read)
    if name.startswith("hf:"):
        repo, _, revision = name[3:].partition("@")
        return name, Loader(f"Hugging Face dataset {repo}", lambda: hf_records(repo, revision or None, offline=OFFLINE), "hf-")
    if Path(name).suffix.lower() in FILE_TYPES:
        path = user_path(name)
        return str(path), Loader(f"local file {path}", lambda: read_local_file(path), "q", content_ids=True)
    choices = "; ".join(f"'{k}' ({v})" for k, v in NAMED_DATASETS.items())
    raise DatasetError(
        f"unknown dataset '{name}'. Choose one of: {choices}; a local .csv/.jsonl/.json file with a "
        f"{'/'.join(TEXT_COLUMNS)} column (or name it: file.json#<column>) and an optional id; hf:owner/name@revision; or "
        "github:owner/repo/path@commit[#<column>]"
    )


def load_query_set(
    dataset: str,
    limit: int | None = None,
    *,
    limit_is_default: bool = False,
    replay: bool = False,
    condition_names: Collection[str] | None = None,
) -> QuerySet:
    """Resolve ``-T dataset=...`` and keep the first ``limit`` distinct queries (the paper takes the first
    N of its dataset). Asking for more queries than the dataset holds is an error; a scenario's default
    count that exceeds it is a truncation, noted."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DatasetError(f"limit must be a positive number of queries, got {limit!r}")
    name, loader = resolve_loader(dataset)
    rows = loader.rows()
    queries, notes = queries_from_records(
        rows, source=name, id_prefix=loader.id_prefix, content_ids=loader.content_ids,
        replay=replay, condition_names=condition_names,
    )
    notes = [*loader.notes, *notes]
    ids = list(dict.fromkeys(q.id for q in queries))
    available = len(ids)
    if limit is not None and limit > available:
        if not limit_is_default:
            raise DatasetError(
                f"queries={limit}, but dataset '{name}' holds {available} distinct queries; ask for at most {available}"
            )
        notes.append(f"the scenario's default of {limit} queries exceeds the {available} in '{name}'; all {available} are used")
    if limit is not None and limit < available:
        kept = set(ids[:limit])
        queries = [q for q in queries if q.id in kept]
    for note in notes:
        logger.warning("dataset %s: %s", name, note)
    return QuerySet(queries, name, available, notes)


def load_queries(dataset: str, limit: int | None = None, *, replay: bool = False, condition_names: Collection[str] | None = None) -> list[Query]:
    """The queries of ``load_query_set`` (an explicit ``limit``: more than the dataset holds is an error)."""
    return load_query_set(dataset, limit, replay=replay, condition_names=condition_names).queries
