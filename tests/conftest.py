"""Shared test setup.

Offline by default and nothing outside the repository: tests marked ``online`` (network or provider keys)
run only with ``--run-online``, tests marked ``slow`` (more than about 2 s: the end-to-end runs of a
scenario at a size that checks its numbers, the CLI and README runs) only with ``--run-slow``.

    pytest -q                          # the fast subset (about a minute on 2 cores)
    pytest -q --run-slow               # the full offline suite (what .ci/run runs)
    pytest -q --run-slow --run-online  # everything

Our own fixtures live in ``tests/fixtures/`` (see its README). Tests of real third-party transcripts read
them from the folder named by ``ALIGNMENT_FAKING_REAL_FIXTURES`` (files in the same layout) and are skipped,
with that reason, when it is not set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
REAL_FIXTURES_ENV = "ALIGNMENT_FAKING_REAL_FIXTURES"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-online", action="store_true", help="also run tests marked online (network or API keys)")
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow (more than ~2 s each)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gates = {
        "online": ("--run-online", "needs the network or API keys; run with --run-online"),
        "slow": ("--run-slow", "slow (> ~2 s); run with --run-slow"),
    }
    for marker, (option, reason) in gates.items():
        if config.getoption(option):
            continue
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_inspect(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep Inspect's cache and the dataset cache out of the user's home folder."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("INSPECT_CACHE_DIR", str(base / "inspect_cache"))
    monkeypatch.setenv("ALIGNMENT_FAKING_CACHE", str(base / "af_cache"))
    os.environ.setdefault("INSPECT_LOG_LEVEL", "warning")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    """A loopback model server (the organism over HTTP: OpenAI and Anthropic endpoints) with this test's
    provider environment pointed at it. A test module may define its own ``server`` with other settings."""
    from alignment_faking.organism.loopback import LoopbackConfig, LoopbackServer

    with LoopbackServer(LoopbackConfig()) as running:
        for key, value in running.env().items():
            monkeypatch.setenv(key, value)
        yield running


def real_fixture(name: str) -> Path:
    """A real third-party transcript file from ``$ALIGNMENT_FAKING_REAL_FIXTURES``; skips with the reason when absent."""
    folder = os.environ.get(REAL_FIXTURES_ENV)
    if not folder:
        pytest.skip(f"real third-party transcripts not given: set {REAL_FIXTURES_ENV} to a folder holding {name}")
    path = Path(folder) / name
    if not path.is_file():
        pytest.skip(f"{name} not found in {REAL_FIXTURES_ENV}={folder}")
    return path
