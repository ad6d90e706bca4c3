"""Smoke test of benchmarks/speed.py: its measuring function at a tiny size (no timing thresholds)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

SPEED_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "speed.py"


@pytest.fixture(scope="module")
def speed():
    spec = importlib.util.spec_from_file_location("benchmarks_speed", SPEED_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_measure_counts_requests_at_the_server_and_computes_the_ideal_from_them(speed, tmp_path: Path) -> None:
    latency, connections = 0.01, 3
    result = speed.measure(10, latency, connections, log_dir=tmp_path, log_samples=True, count_log_events=True)

    assert result["total_samples"] == result["completed_samples"] == 10
    # the server answered exactly the model calls the log records, per model, and the same tokens
    assert result["requests"] == result["log_model_events"]
    assert set(result["requests"]) == {"faker", "gpt-4o"}
    assert result["requests"]["faker"] == 10  # one completion per sample (the organism is always valid)
    assert result["requests"]["gpt-4o"] >= 10  # at least the StrongREJECT grade of each sample
    assert result["server_output_tokens"] == result["log_output_tokens"]
    assert result["probes"] == 1  # the Responses-API reasoning probe, once
    # the ideal is computed from those counts: R * L / C
    total = sum(result["requests"].values()) + result["probes"]
    assert result["total_requests"] == total
    assert result["ideal_s"] == pytest.approx(total * latency / connections)
    assert result["calls_per_sample"] == pytest.approx(total / 10)
    assert math.isfinite(result["ratio"]) and result["ratio"] > 0
    assert result["ratio"] == pytest.approx(result["wall_s"] / result["ideal_s"])
    # max_samples = C and each sample's calls are sequential, so the server never had more than C in flight
    assert 1 <= result["server_max_in_flight"] <= connections
    assert result["faults"] == {}
    assert result["server_cpu_s"] > 0  # the server ran in a child process, not in the measured one
    assert len(list(tmp_path.glob("*.eval"))) == 1


@pytest.mark.slow
def test_zero_latency_has_no_ratio_and_more_samples_than_builtin_use_a_generated_dataset(speed, tmp_path: Path) -> None:
    dataset, note = speed.dataset_for(450, tmp_path)
    rows = [json.loads(line) for line in Path(dataset).read_text().splitlines()]
    assert len(rows) == 225 and "generated" in note
    assert len({r["id"] for r in rows}) == len({r["prompt"] for r in rows}) == 225  # every sample a distinct request
    assert rows[100]["prompt"].startswith(rows[0]["prompt"]) and rows[100]["prompt"].endswith("(copy 2)")
    assert speed.dataset_for(200, tmp_path)[0] == "builtin"

    result = speed.measure(4, 0.0, 3)  # a second run in this process, same settings: a fresh server, fresh models
    assert result["ideal_s"] == 0 and result["ratio"] is None
    assert result["samples_per_s"] == pytest.approx(4 / result["wall_s"])


def test_bad_arguments_are_refused_by_name(speed) -> None:
    with pytest.raises(ValueError, match="connections >= 1"):
        speed.measure(10, 0.1, 0)
    with pytest.raises(SystemExit):
        speed.main(["--sizes", "ten"])
