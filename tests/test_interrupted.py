"""Interrupted runs resume to exactly the run that was never interrupted.

``inspect eval tasks/gap.py`` runs as a child process against the loopback server (with latency, so the run
is still going when it is stopped), with Inspect's model-output cache (``--cache``) and two epochs. It is
stopped mid-way with SIGINT (Ctrl-C: the log is closed as ``cancelled``) or SIGKILL (the log is left
``started``, as after a crash or a killed job), then resumed with ``inspect eval-retry`` (which recovers a
``started`` log first) or ``inspect eval-set`` on the same log folder. The final log must hold every
sample id x epoch exactly once, and its metrics must equal those of an uninterrupted run with the same
cached responses.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from inspect_ai.log import EvalLog, list_eval_logs, read_eval_log

from alignment_faking.organism.loopback import LoopbackConfig, LoopbackServer
from alignment_faking.scorers.metrics import full_results_from_log

REPO = Path(__file__).resolve().parents[1]
INSPECT = [sys.executable, "-m", "inspect_ai"]  # the `inspect` command of this interpreter's install
QUERIES, EPOCHS = 6, 2  # 12 samples x 2 epochs
TASK = ["tasks/gap.py", "-T", "dataset=builtin", "-T", f"queries={QUERIES}", "--model", "openai/faker"]
OPTIONS = ["--epochs", str(EPOCHS), "--cache", "1D", "--max-samples", "3", "--display", "none", "--log-level", "warning"]

pytestmark = pytest.mark.slow  # each test runs Inspect end to end (more than ~10 s on 2 cores)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    # a child process: the server keeps serving while the eval it talks to is killed
    with LoopbackServer(LoopbackConfig(latency=0.1), process=True) as running:
        yield running


def env(server: LoopbackServer, cache: Path) -> dict[str, str]:
    return {**os.environ, **server.env(), "INSPECT_CACHE_DIR": str(cache), "INSPECT_EVAL_LOG_FILE_PATTERN": "{task}_{id}"}


def inspect(args: list[str], environment: dict[str, str]) -> None:
    done = subprocess.run([*INSPECT, *args], cwd=REPO, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


def interrupt(server: LoopbackServer, args: list[str], environment: dict[str, str], sig: signal.Signals) -> tuple[int, str]:
    """Start ``inspect <args>``, wait until about a third of its policy requests are answered, send the signal;
    the command's exit code and what it printed on stderr."""
    child = subprocess.Popen([*INSPECT, *args], cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if server.stats()["models"].get("faker", {}).get("requests", 0) >= QUERIES * 2 * EPOCHS // 3:
                break
            time.sleep(0.05)
        assert child.poll() is None, "the run ended before it could be interrupted"
        child.send_signal(sig)
        _, stderr = child.communicate(timeout=30)
        return child.returncode, stderr
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def final_log(log_dir: Path) -> EvalLog:
    logs = [read_eval_log(info.name) for info in list_eval_logs(str(log_dir))]
    done = [log for log in logs if log.status == "success"]
    assert len(done) == 1, [log.status for log in logs]
    return done[0]


def sample_keys(log: EvalLog) -> list[tuple[str, int]]:
    return [(str(s.id), s.epoch) for s in log.samples]


def metrics(log: EvalLog) -> dict[str, float]:
    """Every number of the run (the log keeps a small metric set; test_metrics checks it agrees)."""
    return full_results_from_log(log)


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all((math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a)


def check_resumed(server: LoopbackServer, resumed: EvalLog, tmp_path: Path, environment: dict[str, str]) -> None:
    keys = sample_keys(resumed)
    expected = {(f"b{q:03d}__{c}", e) for q in range(1, QUERIES + 1) for c in ("free", "paid") for e in range(1, EPOCHS + 1)}
    assert len(keys) == len(set(keys)), "a sample x epoch is duplicated"
    assert set(keys) == expected, f"missing: {sorted(expected - set(keys))}"
    assert all(s.error is None and s.scores for s in resumed.samples)

    # the uninterrupted run, on the same cached responses: it sends no request of its own
    before = server.stats()["total"]["requests"]
    inspect(["eval", *TASK, *OPTIONS, "--log-dir", str(tmp_path / "whole")], environment)
    whole = final_log(tmp_path / "whole")
    assert server.stats()["total"]["requests"] == before
    assert sorted(sample_keys(whole)) == sorted(keys)
    assert same(metrics(resumed), metrics(whole))
    by_key = {(str(s.id), s.epoch): s.scores for s in whole.samples}
    assert all(s.scores == by_key[(str(s.id), s.epoch)] for s in resumed.samples)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_an_interrupted_run_resumes_with_eval_retry(sig: signal.Signals, server: LoopbackServer, tmp_path: Path) -> None:
    environment = env(server, tmp_path / "cache")
    log_dir = tmp_path / "run"
    code, stderr = interrupt(server, ["eval", *TASK, *OPTIONS, "--log-dir", str(log_dir)], environment, sig)
    [stopped] = [read_eval_log(info.name, header_only=True) for info in list_eval_logs(str(log_dir))]
    assert stopped.status == ("cancelled" if sig == signal.SIGINT else "started")
    if sig == signal.SIGINT:  # Ctrl-C: Inspect closes the log and used to exit 0; one line (on stderr under --display none) and exit 1
        location = stopped.location.removeprefix("file://")
        assert code == 1 and [text for text in stderr.splitlines() if text.strip()] == [
            f"RunFailed: alignment_faking/gap on openai/faker was cancelled; log: {location}; run what is missing with: inspect eval-retry {location}"
        ]

    inspect(["eval-retry", stopped.location, "--log-dir", str(log_dir), "--display", "none", "--log-level", "warning"], environment)
    check_resumed(server, final_log(log_dir), tmp_path, environment)


def test_a_killed_eval_set_resumes_on_the_same_log_dir(server: LoopbackServer, tmp_path: Path) -> None:
    environment = env(server, tmp_path / "cache")
    log_dir = tmp_path / "set"
    child_args = ["eval-set", *TASK, *OPTIONS, "--log-dir", str(log_dir)]
    interrupt(server, child_args, environment, signal.SIGKILL)

    inspect(child_args, environment)  # the same command again: eval-set finishes what is missing
    check_resumed(server, final_log(log_dir), tmp_path, environment)
