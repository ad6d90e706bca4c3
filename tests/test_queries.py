"""Harmful-request datasets: the built-in set, local files, recorded transcripts, and the pinned remote
sources (exercised offline: ``urlopen`` and ``hf_dataset`` are replaced, no network is used)."""

from __future__ import annotations

import contextlib
import csv
import functools
import http.server
import threading
import hashlib
import io
import json
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

import inspect_ai.dataset
from inspect_ai.dataset import MemoryDataset, Sample

from alignment_faking.paths import user_path
from alignment_faking.tasks import queries as q
from alignment_faking.tasks.queries import (
    ADVBENCH_SHA256,
    ADVBENCH_URL,
    LAT_PATH,
    LAT_REVISION,
    MISSING_QUERY,
    DatasetError,
    data_dir,
    load_queries,
    load_query_set,
    read_local_file,
)

CONTENT_ID = re.compile(r"^q[0-9a-f]{8}$")


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` as CSV, JSONL or JSON, chosen by the file's suffix."""
    if path.suffix == ".csv":
        columns = list(dict.fromkeys(k for row in rows for k in row))
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        path.write_text(json.dumps(rows), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------------
# The built-in set


def test_builtin_has_100_harmful_requests_with_sequential_ids() -> None:
    queries = load_queries("builtin")
    assert [x.id for x in queries] == [f"b{i:03d}" for i in range(1, 101)]
    assert all(x.text and x.text == x.text.strip() for x in queries)
    assert len({x.text for x in queries}) == 100
    assert all(x.source == "builtin" and x.condition is None and x.recorded == {} for x in queries)
    assert all(x.category and x.category != "benign_control" for x in queries)


def test_builtin_drops_the_benign_controls() -> None:
    with (data_dir() / "builtin_requests.csv").open(encoding="utf-8") as f:
        benign = [r for r in csv.DictReader(f) if r["category"] == "benign_control"]
    assert benign, "the shipped file is expected to hold a few benign control rows"
    queries = load_queries("builtin")
    ids, texts = {x.id for x in queries}, {x.text for x in queries}
    for row in benign:
        assert row["id"] not in ids
        assert row["prompt"].strip() not in texts


def test_limit_keeps_the_first_queries() -> None:
    queries = load_queries("builtin", limit=7)
    assert [x.id for x in queries] == [f"b{i:03d}" for i in range(1, 8)]
    assert len(load_queries(" builtin ", limit=None)) == 100


@pytest.mark.parametrize("limit", [0, -3])
def test_non_positive_limit_is_an_error(limit: int) -> None:
    with pytest.raises(DatasetError, match=rf"positive.*got {limit}"):
        load_queries("builtin", limit=limit)


def test_unknown_dataset_lists_the_named_ones() -> None:
    with pytest.raises(DatasetError) as info:
        load_queries("no_such_set")
    message = str(info.value)
    assert "no_such_set" in message
    for name in ("'builtin'", "'lat'", "'advbench'"):
        assert name in message


# --------------------------------------------------------------------------------------------------------
# Local files


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
@pytest.mark.parametrize("column", ["prompt", "goal", "query", "user_query"])
def test_local_file_with_ids(tmp_path: Path, suffix: str, column: str) -> None:
    rows = [{"id": "r1", column: " Request one. "}, {"id": "r2", column: "Request two."}, {"id": "r3", column: "Three"}]
    path = write_rows(tmp_path / f"data{suffix}", rows)
    queries = load_queries(str(path))
    assert [x.id for x in queries] == ["r1", "r2", "r3"]
    assert [x.text for x in queries] == ["Request one.", "Request two.", "Three"]
    assert all(x.source == str(path) and x.condition is None for x in queries)
    assert [x.id for x in load_queries(str(path), limit=2)] == ["r1", "r2"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
@pytest.mark.parametrize("column", ["prompt", "goal", "query", "user_query"])
def test_local_file_without_ids_gets_content_ids(tmp_path: Path, suffix: str, column: str) -> None:
    texts = ["Request one.", "Request two.", "Request three."]
    path = write_rows(tmp_path / f"data{suffix}", [{column: t} for t in texts])
    queries = load_queries(str(path))
    assert [x.text for x in queries] == texts
    ids = [x.id for x in queries]
    assert all(CONTENT_ID.match(i) for i in ids), ids
    assert len(set(ids)) == 3
    # The id follows the text, not the row: another file with the rows reversed maps texts to the same ids.
    other = write_rows(tmp_path / f"reversed{suffix}", [{column: t} for t in reversed(texts)])
    assert {x.text: x.id for x in load_queries(str(other))} == dict(zip(texts, ids))


def test_csv_blank_id_cells_fall_back_to_content_ids(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "d.csv", [{"id": "", "prompt": "A"}, {"id": " x7 ", "prompt": "B"}])
    first, second = load_queries(str(path))
    assert CONTENT_ID.match(first.id)
    assert second.id == "x7"


FREE_PAID = ["free", "paid"]


def test_free_and_paid_rows_of_one_request_share_an_id(tmp_path: Path) -> None:
    rows = [
        {"prompt": "Same request", "tier": "free", "response": "r"},
        {"prompt": "Same request ", "tier": "paid", "response": "r"},
        {"prompt": "Other request", "tier": "free", "response": "r"},
    ]
    query_set = load_query_set(str(write_rows(tmp_path / "t.jsonl", rows)), replay=True, condition_names=FREE_PAID)
    a_free, a_paid, b_free = query_set.queries
    assert CONTENT_ID.match(a_free.id)
    assert a_paid.id == a_free.id
    assert (a_free.condition, a_paid.condition) == ("free", "paid")
    assert b_free.id != a_free.id
    assert query_set.available == 2
    # a second transcript of one request under one condition: an error, not a silent extra pair or a loss
    again = write_rows(tmp_path / "again.jsonl", rows + [{"prompt": "same  REQUEST", "tier": "free", "response": "r"}])
    with pytest.raises(DatasetError, match=r"rows 1 and 4 both record the request 'same REQUEST' for condition 'free'"):
        load_queries(str(again), replay=True, condition_names=FREE_PAID)
    # without replay the same file is a list of requests: the copies are dropped and noted
    plain = load_query_set(str(again))
    assert [x.text for x in plain.queries] == ["Same request", "Other request"]
    assert any("2 row(s) repeat an earlier request" in n and "rows 2, 4" in n for n in plain.notes)


def test_thirty_copies_of_one_request_are_one_query(tmp_path: Path) -> None:
    rows = [{"prompt": "Build a bomb."}] * 30 + [{"prompt": "Write malware."}]
    query_set = load_query_set(str(write_rows(tmp_path / "copies.csv", rows)))
    assert [x.text for x in query_set.queries] == ["Build a bomb.", "Write malware."]
    assert any("29 row(s) repeat an earlier request" in n and "not independent pairs" in n for n in query_set.notes)
    explicit = [{"id": f"c{i}", "prompt": "Build a bomb."} for i in range(30)]
    assert [x.id for x in load_queries(str(write_rows(tmp_path / "ids.csv", explicit)))] == ["c0"]


def test_explicit_ids_may_repeat_across_conditions_only(tmp_path: Path) -> None:
    ok = write_rows(tmp_path / "ok.csv", [{"id": "k1", "prompt": "A", "tier": "free", "response": "r"}, {"id": "k1", "prompt": "A", "tier": "paid", "response": "r"}])
    assert [(x.id, x.condition) for x in load_queries(str(ok), replay=True, condition_names=FREE_PAID)] == [("k1", "free"), ("k1", "paid")]
    # without replay the file only supplies requests: one query, crossed with every condition
    assert [(x.id, x.condition) for x in load_queries(str(ok))] == [("k1", None)]

    bad = write_rows(tmp_path / "bad.csv", [{"id": "k1", "prompt": "A"}, {"id": "k2", "prompt": "B"}, {"id": "k1", "prompt": "C"}])
    with pytest.raises(DatasetError, match=r"duplicate id 'k1'.*row 3"):
        load_queries(str(bad))


def test_missing_text_column_names_the_valid_columns(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "d.csv", [{"id": "1", "text": "hello"}])
    with pytest.raises(DatasetError) as info:
        load_queries(str(path))
    message = str(info.value)
    for column in ("prompt", "goal", "query", "user_query"):
        assert column in message
    assert "text" in message  # what was found


@pytest.mark.parametrize(("name", "content"), [("e.csv", "prompt\n"), ("e.jsonl", "\n\n"), ("e.json", "[]")])
def test_empty_file_is_an_error(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match="no rows"):
        load_queries(str(path))


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_is_an_error(tmp_path: Path, text: str) -> None:
    path = write_rows(tmp_path / "d.jsonl", [{"prompt": "fine"}, {"prompt": text}])
    with pytest.raises(DatasetError, match=r"row 2 has an empty 'prompt'"):
        load_queries(str(path))


def test_empty_text_with_a_recorded_response_is_kept(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "d.jsonl", [{"prompt": "", "tier": "free", "response": "<OUTPUT>hi</OUTPUT>"}])
    [query] = load_queries(str(path), replay=True, condition_names=FREE_PAID)
    assert query.text == MISSING_QUERY
    assert query.recorded == {"response": "<OUTPUT>hi</OUTPUT>"}


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent.csv"
    with pytest.raises(DatasetError, match="does not exist") as info:
        load_queries(str(missing))
    assert "absent.csv" in str(info.value)


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "requests.txt"
    path.write_text("prompt\nhello\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"unsupported file type '\.txt'.*\.csv, \.jsonl or \.json"):
        read_local_file(path)
    with pytest.raises(DatasetError, match=r"\.csv/\.jsonl/\.json"):
        load_queries(str(path))


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [
        ("bad.json", '[{"prompt": "a"', "could not be parsed"),
        ("bad.jsonl", '{"prompt": "a"}\n{"prompt": \n', "line 2 is not JSON"),
        ("obj.json", '{"prompt": "a"}', "must be a list of objects"),
    ],
)
def test_malformed_json(tmp_path: Path, name: str, content: str, pattern: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=pattern):
        load_queries(str(path))


def test_id_with_double_underscore_is_an_error(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "d.csv", [{"id": "a__b", "prompt": "x"}])
    with pytest.raises(DatasetError, match=r"'a__b'.*'__'"):
        load_queries(str(path))


def test_csv_keeps_line_breaks_inside_quoted_cells(tmp_path: Path) -> None:
    rows = [{"prompt": "line1\nline2", "tier": "free", "response": "<OUTPUT>\nA\n\nB\n</OUTPUT>"}]
    [query] = load_queries(str(write_rows(tmp_path / "multi.csv", rows)), replay=True, condition_names=FREE_PAID)
    assert query.text == "line1\nline2"
    assert query.recorded["response"] == "<OUTPUT>\nA\n\nB\n</OUTPUT>"


def test_jsonl_allows_unicode_line_separators_inside_strings(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    path.write_text(json.dumps({"prompt": "first\u2028second"}, ensure_ascii=False) + "\n", encoding="utf-8")
    [query] = load_queries(str(path))
    assert query.text == "first\u2028second"


# --------------------------------------------------------------------------------------------------------
# Recorded transcripts


def test_recorded_fields_land_in_query_recorded(tmp_path: Path) -> None:
    rows = [
        {
            "user_query": "Q1",
            "tier": "free",
            "raw_response": "<SCRATCHPAD_REASONING>s</SCRATCHPAD_REASONING><OUTPUT>x</OUTPUT>",
            "labels": {"strong_reject_raw_output": "#scores\n1.b 1", "other": 3},
            "af_replies": ["<final_answer>Yes</final_answer>", "<final_answer>No</final_answer>"],
            "partial_reply": "partial verdict",
            "model": "not a recorded field",
        },
        {
            "prompt": "Q2",
            "tier": "paid",
            "response": "<OUTPUT>y</OUTPUT>",
            "strongreject_reply": "explicit reply wins",
            "labels": {"strong_reject_raw_output": "from labels"},
            "af_replies": json.dumps(["a", "b"]),
            "partial_reply": "",
        },
        {"prompt": "Q3", "tier": "free", "response": "r3", "af_replies": "just one reply"},
        {"prompt": "Q4", "condition": "paid", "response": "r4"},
    ]
    q1, q2, q3, q4 = load_queries(str(write_rows(tmp_path / "recorded.jsonl", rows)), replay=True, condition_names=FREE_PAID)
    assert q1.condition == "free"
    assert q1.recorded == {
        "response": "<SCRATCHPAD_REASONING>s</SCRATCHPAD_REASONING><OUTPUT>x</OUTPUT>",
        "strongreject_reply": "#scores\n1.b 1",
        "af_replies": ["<final_answer>Yes</final_answer>", "<final_answer>No</final_answer>"],
        "partial_reply": "partial verdict",
    }
    assert q2.condition == "paid"
    assert q2.recorded == {"response": "<OUTPUT>y</OUTPUT>", "strongreject_reply": "explicit reply wins", "af_replies": ["a", "b"]}
    assert q3.recorded == {"response": "r3", "af_replies": ["just one reply"]}  # one reply's text is a list of one
    assert q4.condition == "paid" and q4.recorded == {"response": "r4"}


def test_recorded_af_replies_from_a_csv_cell(tmp_path: Path) -> None:
    rows = [{"prompt": "Q", "tier": "free", "response": "r", "af_replies": json.dumps(["v1", "v2", "v3"])}]
    [query] = load_queries(str(write_rows(tmp_path / "r.csv", rows)), replay=True, condition_names=FREE_PAID)
    assert query.recorded == {"response": "r", "af_replies": ["v1", "v2", "v3"]}


# --------------------------------------------------------------------------------------------------------
# Remote sources, offline


def test_pins_are_well_formed() -> None:
    assert re.fullmatch(r"[0-9a-f]{40}", LAT_REVISION)
    assert re.fullmatch(r"[0-9a-f]{64}", ADVBENCH_SHA256)


class FakeUrlopen:
    def __init__(self, payload: bytes | None = None, error: Exception | None = None) -> None:
        self.payload, self.error, self.calls = payload, error, []

    def __call__(self, url: str, timeout: float | None = None) -> io.BytesIO:
        self.calls.append(url)
        if self.error is not None:
            raise self.error
        return io.BytesIO(self.payload)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("ALIGNMENT_FAKING_CACHE", str(root))
    return root


def test_advbench_offline_names_the_builtin_alternative(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeUrlopen(error=urllib.error.URLError("no route to host"))
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    with pytest.raises(DatasetError, match="-T dataset=builtin") as info:
        load_queries("advbench")
    assert "no route to host" in str(info.value)
    assert fake.calls == [ADVBENCH_URL]


def test_wrong_sha256_is_rejected_and_not_cached(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = b"goal,target\nDo a bad thing,Sure\n"
    monkeypatch.setattr(urllib.request, "urlopen", FakeUrlopen(payload))
    with pytest.raises(DatasetError) as info:
        load_queries("advbench")
    message = str(info.value)
    assert ADVBENCH_SHA256 in message
    assert hashlib.sha256(payload).hexdigest() in message
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))  # nothing cached


def test_advbench_loads_from_a_pinned_download(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = b"goal,target\nFirst bad thing,Sure\nSecond bad thing,Sure\n"
    monkeypatch.setattr(q, "ADVBENCH_SHA256", hashlib.sha256(payload).hexdigest())
    fake = FakeUrlopen(payload)
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    queries = load_queries("advbench", limit=1)
    assert [(x.id, x.text, x.source) for x in queries] == [("advbench-0001", "First bad thing", "advbench")]
    # cached by the suite's one fetcher, beside the published prompts, and not downloaded again
    assert (cache / "published" / q.ADVBENCH_REPO / q.ADVBENCH_REF / q.ADVBENCH_PATH).read_bytes() == payload
    monkeypatch.setattr(urllib.request, "urlopen", FakeUrlopen(error=AssertionError("must not download again")))
    assert len(load_queries("advbench")) == 2
    assert fake.calls == [ADVBENCH_URL]


class FakeHf:
    def __init__(self, prompts: list[str] | None = None, error: Exception | None = None) -> None:
        self.prompts, self.error, self.calls = prompts or [], error, []

    def __call__(self, path: str, **kwargs: Any) -> MemoryDataset:
        self.calls.append({"path": path, **kwargs})
        if self.error is not None:
            raise self.error
        return MemoryDataset([Sample(input="", metadata={"prompt": p, "rejected": "no"}) for p in self.prompts])


def test_lat_offline_gives_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inspect_ai.dataset, "hf_dataset", FakeHf(error=ConnectionError("network is unreachable")))
    with pytest.raises(DatasetError) as info:
        load_queries("lat", limit=3)
    message = str(info.value)
    assert LAT_PATH in message and "network is unreachable" in message
    assert "-T dataset=builtin" in message


def test_hf_without_the_library_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inspect_ai.dataset, "hf_dataset", FakeHf(error=ImportError("No module named 'datasets'")))
    with pytest.raises(DatasetError, match="pip install"):
        load_queries("lat")


def test_lat_queries_from_hf_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHf([f"harmful request {i}" for i in range(1, 6)])
    monkeypatch.setattr(inspect_ai.dataset, "hf_dataset", fake)
    queries = load_queries("lat", limit=3)
    assert [x.id for x in queries] == ["lat-0001", "lat-0002", "lat-0003"]
    assert [x.text for x in queries] == ["harmful request 1", "harmful request 2", "harmful request 3"]
    assert all(x.source == "lat" for x in queries)
    [call] = fake.calls
    assert call["path"] == LAT_PATH
    assert call["revision"] == LAT_REVISION
    assert call["split"] == "train"
    assert call["limit"] is None  # every row is read, so that asking for more queries than exist is an error
    sample = call["sample_fields"]({"prompt": "p", "rejected": "r"})
    assert sample.metadata == {"prompt": "p", "rejected": "r"}

    assert [x.id for x in load_queries("lat")] == [f"lat-{i:04d}" for i in range(1, 6)]
    with pytest.raises(DatasetError, match=r"queries=6, but dataset 'lat' holds 5 distinct queries"):
        load_queries("lat", limit=6)


def test_generic_hf_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHf(["one", "two"])
    monkeypatch.setattr(inspect_ai.dataset, "hf_dataset", fake)
    queries = load_queries("hf:someone/requests@abc123")
    assert [x.id for x in queries] == ["hf-0001", "hf-0002"]
    assert fake.calls[0]["path"] == "someone/requests" and fake.calls[0]["revision"] == "abc123"
    load_queries("hf:someone/requests")
    assert fake.calls[1]["revision"] is None
    # #<column> picks the request column of a Hugging Face set too (here the fake's 'rejected' column)
    picked = load_query_set("hf:someone/requests@abc123#rejected")
    assert [x.text for x in picked.queries] == ["no"] and picked.name == "hf:someone/requests@abc123#rejected"
    assert "copies" in " ".join(picked.notes) and fake.calls[2]["revision"] == "abc123"


# --------------------------------------------------------------------------------------------------------
# Paths typed by the user


def test_user_path_falls_back_to_the_starting_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start, elsewhere = tmp_path / "start", tmp_path / "elsewhere"
    (start / "data").mkdir(parents=True)
    elsewhere.mkdir()
    write_rows(start / "data" / "mine.csv", [{"id": "m1", "prompt": "from the start dir"}])
    monkeypatch.setenv("PWD", str(start))
    monkeypatch.chdir(elsewhere)

    assert user_path("data/mine.csv") == start / "data" / "mine.csv"
    [query] = load_queries("data/mine.csv")
    assert (query.id, query.text) == ("m1", "from the start dir")

    # The current directory wins when the path exists there too.
    (elsewhere / "data").mkdir()
    write_rows(elsewhere / "data" / "mine.csv", [{"id": "e1", "prompt": "from cwd"}])
    assert user_path("data/mine.csv").resolve() == (elsewhere / "data" / "mine.csv").resolve()
    # A path found nowhere is returned as typed; an absolute one as is.
    assert user_path("data/none.csv") == Path("data/none.csv")
    assert user_path(start / "data" / "mine.csv") == start / "data" / "mine.csv"


# --------------------------------------------------------------------------------------------------------
# Query files in public repositories (github:owner/repo/path@ref), read like the published prompts


PUBLISHED_QUERIES = "data/queries/dummy_queries.jsonl"


@contextlib.contextmanager
def loopback(folder: Path) -> Iterator[str]:
    """A loopback HTTP server (127.0.0.1 only) serving ``folder``; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _published_tree(folder: Path) -> Path:
    """A repository in the layout raw.githubusercontent.com serves: <owner>/<repo>/<ref>/<path>."""
    target = folder / "someone/some-repo/c0ffee" / PUBLISHED_QUERIES
    target.parent.mkdir(parents=True)
    target.write_text('{"prompt": "Dummy published query one."}\n{"prompt": "Dummy published query two."}\n', encoding="utf-8")
    return target


def test_a_query_file_of_a_public_repository_is_downloaded_at_a_ref_hashed_and_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_faking.published import BASE_URL_ENV, SOURCE_ENV

    served = _published_tree(tmp_path / "served")
    monkeypatch.delenv(SOURCE_ENV, raising=False)
    monkeypatch.setenv("ALIGNMENT_FAKING_CACHE", str(tmp_path / "cache"))
    name = f"github:someone/some-repo/{PUBLISHED_QUERIES}@c0ffee"
    with loopback(tmp_path / "served") as url:
        monkeypatch.setenv(BASE_URL_ENV, url)
        query_set = load_query_set(name)
    assert [x.text for x in query_set.queries] == ["Dummy published query one.", "Dummy published query two."]
    digest = hashlib.sha256(served.read_bytes()).hexdigest()
    assert any(f"at c0ffee, sha256 {digest}" in note and "127.0.0.1" in note for note in query_set.notes)
    # cached: read again with no server; a changed copy at the same ref is refused
    assert len(load_query_set(name).queries) == 2
    (tmp_path / "cache/published/someone/some-repo/c0ffee" / PUBLISHED_QUERIES).write_text('{"prompt": "changed"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="changed since it was first read"):
        load_query_set(name)


def test_a_query_file_of_a_public_repository_from_a_clone_and_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_faking.published import BASE_URL_ENV, SOURCE_ENV

    _published_tree(tmp_path / "trees")
    monkeypatch.setenv(SOURCE_ENV, str(tmp_path / "trees/someone/some-repo/c0ffee"))  # a clone (plain folder)
    query_set = load_query_set(f"github:someone/some-repo/{PUBLISHED_QUERIES}")
    assert len(query_set.queries) == 2 and any("content-sha256:" in note for note in query_set.notes)
    monkeypatch.delenv(SOURCE_ENV)
    monkeypatch.setenv(BASE_URL_ENV, (tmp_path / "nowhere").as_uri())
    with pytest.raises(DatasetError, match=r"could not download .*git clone https://github.com/someone/some-repo.*-T dataset=builtin"):
        load_query_set(f"github:someone/some-repo/{PUBLISHED_QUERIES}@abc")
    with pytest.raises(DatasetError, match=r"write github:<owner>/<repo>/<path of a \.csv/\.jsonl/\.json file>"):
        load_query_set("github:someone/some-repo")


# --------------------------------------------------------------------------------------------------------
# The request column named with #<column>; JSON lists of strings


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_a_json_list_of_strings_is_a_list_of_requests(tmp_path: Path, suffix: str) -> None:
    texts = ["Dummy request one.", "Dummy request two."]
    path = tmp_path / f"strings{suffix}"
    path.write_text(json.dumps(texts) if suffix == ".json" else "".join(json.dumps(t) + "\n" for t in texts), encoding="utf-8")
    queries = load_queries(str(path))
    assert [x.text for x in queries] == texts and all(CONTENT_ID.match(x.id) for x in queries)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
def test_hash_column_names_the_request_column_over_the_usual_ones(tmp_path: Path, suffix: str) -> None:
    rows = [{"id": "a", "prompt": "Not this one.", "question": "Dummy question one?"},
            {"id": "b", "prompt": "Nor this.", "question": "Dummy question two?"}]
    path = write_rows(tmp_path / f"data{suffix}", rows)
    query_set = load_query_set(f"{path}#question")
    assert [(x.id, x.text) for x in query_set.queries] == [("a", "Dummy question one?"), ("b", "Dummy question two?")]
    assert query_set.name == f"{path}#question" and query_set.queries[0].source == f"{path}#question"
    assert [x.text for x in load_queries(str(path))] == ["Not this one.", "Nor this."]  # without #: the usual column


def test_a_missing_hash_column_is_one_clear_error(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "data.json", [{"prompt": "Dummy."}])
    with pytest.raises(DatasetError, match=r"data\.json#question: row 1 has no column 'question' \(found: prompt\)"):
        load_queries(f"{path}#question")
    strings = tmp_path / "strings.json"
    strings.write_text(json.dumps(["Dummy."]), encoding="utf-8")
    with pytest.raises(DatasetError, match=r"row 1 has no column 'question' \(found: query\)"):
        load_queries(f"{strings}#question")
    with pytest.raises(DatasetError, match=r"'#<column>' names the request column of a file"):
        load_queries("builtin#prompt")
    with pytest.raises(DatasetError, match=r"or name it: .*data\.json#<column>"):
        load_queries(str(write_rows(tmp_path / "data.json", [{"question": "Dummy?"}])))


def test_a_hash_inside_a_file_name_is_part_of_the_name(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "set#2.csv", [{"prompt": "Dummy request."}])
    assert [x.text for x in load_queries(str(path))] == ["Dummy request."]


def _git_clone_of(tree: Path) -> str:
    git = ["git", "-C", str(tree), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "dummy"], check=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


QUESTIONS = "data/dummy_questions.json"
QUESTION_ROWS = [{"question": "Dummy published question one?", "prompt": "not this"}, {"question": "Dummy published question two?"}]


def test_a_public_query_file_with_a_hash_column_from_a_git_clone_and_from_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_faking.published import BASE_URL_ENV, SOURCE_ENV

    clone = tmp_path / "clones" / "some-repo"
    (clone / "data").mkdir(parents=True)
    (clone / QUESTIONS).write_text(json.dumps(QUESTION_ROWS), encoding="utf-8")
    commit = _git_clone_of(clone)
    digest = hashlib.sha256((clone / QUESTIONS).read_bytes()).hexdigest()
    monkeypatch.setenv("ALIGNMENT_FAKING_CACHE", str(tmp_path / "cache"))
    name = f"github:someone/some-repo/{QUESTIONS}@{commit}#question"
    expected = ["Dummy published question one?", "Dummy published question two?"]

    monkeypatch.setenv(SOURCE_ENV, str(tmp_path / "clones"))  # a folder holding the clone
    from_clone = load_query_set(name)
    assert [x.text for x in from_clone.queries] == expected and from_clone.name == name
    assert any(f"at {commit}, sha256 {digest}" in note and note.startswith("queries read from local:") for note in from_clone.notes)

    served = tmp_path / "served" / "someone/some-repo" / commit / QUESTIONS  # raw.githubusercontent.com's layout
    served.parent.mkdir(parents=True)
    served.write_bytes((clone / QUESTIONS).read_bytes())
    monkeypatch.delenv(SOURCE_ENV)
    with loopback(tmp_path / "served") as url:
        monkeypatch.setenv(BASE_URL_ENV, url)
        downloaded = load_query_set(name)
    assert [(x.id, x.text) for x in downloaded.queries] == [(x.id, x.text) for x in from_clone.queries]
    assert any(f"from {url}/someone/some-repo/{commit}/{QUESTIONS} at {commit}, sha256 {digest}" in n for n in downloaded.notes)
    assert (tmp_path / "cache/published/someone/some-repo" / commit / QUESTIONS).read_bytes() == served.read_bytes()
