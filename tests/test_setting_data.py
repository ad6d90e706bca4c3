"""The newer settings' data loader (``tasks/setting_data.py``) on the suite's one fetcher
(``published.fetch_file``): our own small files in a published layout, served from a loopback HTTP server, a
git clone and a plain folder; offline."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from alignment_faking.published import BASE_URL_ENV, PinnedFile, PublishedError, cache_root, fetch_file
from alignment_faking.tasks import setting_data
from alignment_faking.tasks.setting_data import PublishedFile, SettingDataError, read_setting_bytes, read_setting_file

REF = "0123456789abcdef0123456789abcdef01234567"
SPEC = PublishedFile("someone/dummy-setting", "data/scenarios.json", REF)
ROWS = [{"id": 1, "text": "Dummy scenario one."}, {"id": 2, "text": "Dummy scenario two."}]


class Served:
    """A loopback HTTP server (127.0.0.1 only) serving ``folder`` laid out as raw.githubusercontent.com."""

    def __init__(self, folder: Path):
        served = self
        self.requests = 0

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                super().__init__(*args, directory=str(folder), **kwargs)

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

            def do_GET(self) -> None:
                served.requests += 1
                super().do_GET()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "Served":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ALIGNMENT_FAKING_CACHE", str(tmp_path / "cache"))
    for name in (setting_data.SOURCE_ENV, setting_data.URL_ENV, BASE_URL_ENV):
        monkeypatch.delenv(name, raising=False)
    served = tmp_path / "served" / SPEC.repo / SPEC.ref / SPEC.path
    served.parent.mkdir(parents=True)
    served.write_text(json.dumps(ROWS), encoding="utf-8")
    return tmp_path


def test_the_published_file_is_downloaded_once_cached_with_the_prompts_and_recorded(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = env / "served" / SPEC.repo / SPEC.ref / SPEC.path
    with Served(env / "served") as server:
        monkeypatch.setenv(setting_data.URL_ENV, server.url)
        rows, record = read_setting_file("published", ours="", published=SPEC)
        assert server.requests == 1
    assert rows == ROWS
    assert record == {"source": f"{server.url}/{SPEC.repo}/{REF}/{SPEC.path}", "ref": REF, "repo": SPEC.repo,
                      "path": SPEC.path, "sha256": sha(served.read_bytes())}
    cached = env / "cache" / "published" / SPEC.repo / REF / SPEC.path  # the same folder as the published prompts
    assert cached == SPEC.cached() and cached.read_bytes() == served.read_bytes()
    # the server is gone: read from the cache
    assert read_setting_file("published", ours="", published=SPEC)[0] == ROWS
    # a cached copy edited since the download is refused, saying how to get a fresh one
    cached.write_text(json.dumps(ROWS[:1]), encoding="utf-8")
    with pytest.raises(SettingDataError, match=rf"data/scenarios.json of someone/dummy-setting at {REF} has changed since it was first read.*delete .*scenarios.json to download it again"):
        read_setting_file("published", ours="", published=SPEC)


def test_the_prompts_mirror_variable_serves_the_settings_too(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV, (env / "served").as_uri())
    data, record = read_setting_bytes("published", ours="", published=SPEC)
    assert json.loads(data) == ROWS and record["source"].startswith("file://")


def test_offline_without_a_copy_names_both_ways_out(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(setting_data.URL_ENV, (env / "nowhere").as_uri())
    with pytest.raises(SettingDataError) as error:
        read_setting_file("published", ours="", published=SPEC)
    message = str(error.value)
    assert "\n" not in message and "could not download" in message
    assert f"git clone https://github.com/{SPEC.repo}" in message and "dataset=ours" in message
    assert not (env / "cache" / "published" / SPEC.repo).exists()


def test_a_git_clone_records_its_commit_and_a_plain_folder_says_it_has_none(env: Path) -> None:
    clone = env / "clones" / "dummy-setting"
    shutil.copytree(env / "served" / SPEC.repo / SPEC.ref, clone)
    data, record = read_setting_bytes("published", ours="", published=SPEC, source=str(env / "clones"))
    assert json.loads(data) == ROWS and record["ref"] == "local copy (not a git clone)"
    assert record["source"] == f"local:{(clone / SPEC.path).resolve()}"
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "dummy"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert read_setting_bytes("published", ours="", published=SPEC, source=str(clone))[1]["ref"] == commit
    with pytest.raises(SettingDataError, match=r"data/scenarios.json of someone/dummy-setting is not in .*dataset=ours"):
        read_setting_bytes("published", ours="", published=SPEC, source=str(env / "served"))


def test_a_pinned_digest_refuses_any_other_file(env: Path) -> None:
    clone = env / "served" / SPEC.repo / SPEC.ref
    right = sha((clone / SPEC.path).read_bytes())
    assert read_setting_bytes("published", ours="", published=SPEC, source=str(clone), sha256=right.upper())[1]["sha256"] == right
    with pytest.raises(SettingDataError, match=f"has sha256 {right}, not the pinned {'0' * 64}"):
        read_setting_bytes("published", ours="", published=SPEC, source=str(clone), sha256="0" * 64)


def test_fetch_file_checks_a_pinned_sha256_and_caches_only_a_match(env: Path) -> None:
    served = env / "served" / SPEC.repo / SPEC.ref / SPEC.path
    base = (env / "served").as_uri()
    wrong = PinnedFile(SPEC.repo, SPEC.path, SPEC.ref, "f" * 64)
    with pytest.raises(PublishedError, match=f"has sha256 {sha(served.read_bytes())}, not the pinned {'f' * 64}; it was not cached"):
        fetch_file(wrong, base_url=base)
    assert not wrong.cached().exists()
    right = PinnedFile(SPEC.repo, SPEC.path, SPEC.ref, sha(served.read_bytes()))
    assert fetch_file(right, base_url=base) == (served.read_bytes(), f"{base}/{SPEC.repo}/{REF}/{SPEC.path}")
    # a cached copy that no longer matches its pin is downloaded again
    right.cached().write_text("edited", encoding="utf-8")
    assert fetch_file(right, base_url=base)[0] == served.read_bytes()
    assert right.cached().read_bytes() == served.read_bytes()


@pytest.mark.parametrize("path, ref", [("../outside.json", REF), ("data/x.json", "../.."), ("/etc/passwd", REF)])
def test_fetch_file_refuses_paths_and_refs_outside_the_repository(env: Path, path: str, ref: str) -> None:
    with pytest.raises(PublishedError, match="is not a path or ref inside the repository"):
        fetch_file(PinnedFile(SPEC.repo, path, ref), base_url=(env / "served").as_uri())
    assert not cache_root().exists() or not any(cache_root().rglob("*.json"))


def test_our_shipped_file_is_checked_against_the_pin_beside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dummy.json").write_text(json.dumps(ROWS), encoding="utf-8")
    (tmp_path / "dummy.json.sha256").write_text(sha((tmp_path / "dummy.json").read_bytes()) + "  dummy.json\n", encoding="utf-8")
    monkeypatch.setattr(setting_data, "DATASETS", tmp_path)
    rows, record = read_setting_file("ours", ours="dummy.json", published=SPEC)
    assert rows == ROWS and record["source"] == "ours:datasets/dummy.json"
    (tmp_path / "dummy.json").write_text(json.dumps(ROWS[:1]), encoding="utf-8")
    with pytest.raises(SettingDataError, match="datasets/dummy.json has sha256 .* pinned beside it"):
        read_setting_file("ours", ours="dummy.json", published=SPEC)
