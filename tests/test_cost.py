"""Cost: prompt-cache-friendly requests, and the cost benchmark's counting on a small run (no timing)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.event import ModelEvent
from inspect_ai.log import EvalLog, resolve_sample_attachments
from inspect_ai.model import ChatMessageSystem, ChatMessageUser

from alignment_faking.organism.loopback import LoopbackConfig, LoopbackServer
from alignment_faking.tasks.gap import gap
from alignment_faking.tasks.tiers import three_tiers

REPO = Path(__file__).resolve().parents[1]
OPUS = "claude-3-opus-20240229"


def load_cost_benchmark() -> Any:
    spec = importlib.util.spec_from_file_location("cost_benchmark", REPO / "benchmarks" / "cost.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


cost = load_cost_benchmark()


def model_events(log: EvalLog, grader: bool) -> list[ModelEvent]:
    samples = [resolve_sample_attachments(s, "full") for s in log.samples or []]
    return [e for s in samples for e in s.events if isinstance(e, ModelEvent) and (e.role == "grader") == grader]


def run(tmp_path: Path, task: Any, model: str, **kwargs: Any) -> EvalLog:
    kwargs.setdefault("model_roles", {"grader": "organism/grader"})
    [log] = inspect_eval(task, model=model, log_dir=str(tmp_path), display="none", **kwargs)
    assert log.status == "success", log.error
    return log


# ------------------------------------------------------------------ the model under test: a fixed prefix


@pytest.mark.parametrize("task", [gap(dataset="builtin", queries=4), three_tiers(dataset="builtin", queries=3)], ids=["core", "three_tiers"])
def test_the_system_prompt_is_byte_identical_across_samples_and_comes_first(tmp_path: Path, task: Any) -> None:
    events = model_events(run(tmp_path, task, "organism/faker"), grader=False)
    assert len(events) >= 8
    systems = {e.input[0].text for e in events if isinstance(e.input[0], ChatMessageSystem)}
    assert len(systems) == 1 and all(isinstance(e.input[0], ChatMessageSystem) for e in events)
    # everything that varies (the condition tag and the query) comes after it, in the user turn
    users = [e.input[1].text for e in events]
    assert all(isinstance(e.input[1], ChatMessageUser) for e in events)
    assert len(set(users)) == len(events)
    [system] = systems
    assert not any(system in u for u in users) and all("<user_input>" in u for u in users)


@pytest.mark.slow
def test_each_grader_rubric_is_a_byte_identical_system_prefix(tmp_path: Path) -> None:
    events = model_events(run(tmp_path, gap(dataset="builtin", queries=10), "organism/faker"), grader=True)
    by_rubric: dict[str, set[str]] = {}
    for e in events:
        assert [type(m) for m in e.input] == [ChatMessageSystem, ChatMessageUser]
        system = e.input[0].text
        by_rubric.setdefault(system.splitlines()[0], set()).add(system)
    # three rubrics (StrongREJECT, AF, partial), each sent byte for byte the same; the graded text is in the user turn
    assert len(by_rubric) == 3 and all(len(texts) == 1 for texts in by_rubric.values())
    assert len({e.input[1].text for e in events}) > 3


# ------------------------------------------------------------- Anthropic: cache breakpoints on the wire


@pytest.fixture
def anthropic_server() -> Iterator[LoopbackServer]:
    """The loopback's Anthropic Messages endpoint, recording every request body; Claude 3 Opus is the refuser."""
    with LoopbackServer(LoopbackConfig(aliases={OPUS: "refuser"}, record_requests=True)) as server, server.environment():
        yield server


def message_bodies(server: LoopbackServer) -> list[dict[str, Any]]:
    requests = server.requests()
    assert all(r["path"] == "/v1/messages" for r in requests)
    return [r["body"] for r in requests]


def test_anthropic_requests_mark_the_system_prompt_as_a_cache_breakpoint(tmp_path: Path, anthropic_server: LoopbackServer) -> None:
    # the gap task as shipped (Inspect 0.3.285 caches Anthropic prompts unless cache_prompt=False)
    log = run(tmp_path, gap(dataset="builtin", queries=3), f"anthropic/{OPUS}")
    bodies = message_bodies(anthropic_server)
    assert len(bodies) == 6
    for body in bodies:
        assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert len({json.dumps(b["system"], sort_keys=True) for b in bodies}) == 1  # byte-identical cached prefix
    # the log's ModelCall records the same request
    calls = [e.call.request for e in model_events(log, grader=False) if e.call is not None]
    assert len(calls) == 6 and all(c["system"][-1]["cache_control"] == {"type": "ephemeral"} for c in calls)


def test_cache_prompt_false_removes_the_breakpoints(tmp_path: Path, anthropic_server: LoopbackServer) -> None:
    # the check above would pass vacuously if the server dropped the field: switching caching off
    # through Inspect's own option must make it disappear
    run(tmp_path, gap(dataset="builtin", queries=1), f"anthropic/{OPUS}", cache_prompt=False)
    bodies = message_bodies(anthropic_server)
    assert len(bodies) == 2
    assert all("cache_control" not in json.dumps(b) for b in bodies)


# ------------------------------------------------------------------------- the cost benchmark's counting


@pytest.mark.slow
def test_cost_benchmark_small_run_meets_the_targets_with_identical_verdicts(tmp_path: Path) -> None:
    result = cost.measure(queries=6, log_dir=str(tmp_path), process=False)
    n = result.samples
    assert n == 12 and set(result.gradings) == set(cost.BY_KEY)
    g = {key: r.usage for key, r in result.gradings.items()}
    # the reference protocol really sent 22 requests per sample (1 StrongREJECT + 20 AF + 1 partial), on both providers
    assert g["reference"].requests == g["reference_anthropic"].requests == 22 * n
    assert result.suite.requests / n <= 1.5 and result.suite.input_tokens <= 0.10 * result.reference.input_tokens
    # every grading gives the reference's verdicts on every sample
    assert result.disagreements == {}
    assert result.log_matches_server
    assert result.policy_system_prompts == 1 and result.policy.cached_input_tokens > 0.5 * result.policy.input_tokens
    # the replies are as long as asked (300 tokens each), so output is priced at a real grader's length
    assert abs(result.suite.output_tokens / result.suite.choices - cost.REPLY_TOKENS) <= 1
    # curtailed voting: the same verdicts from fewer votes (13 No settle not-AF; 8 Yes settle AF), so less output
    assert g["curtailed"].choices < 0.8 * result.suite.choices and result.money_ratio("curtailed") < result.money_ratio("suite")
    # a Responses-API model is routed to chat completions: its votes come as choices of one request
    assert g["responses"].requests == result.suite.requests
    # Responses API forced: one vote per request; Anthropic: one vote per request, all but the first read the cached prefix
    assert g["responses_forced"].requests == g["responses_forced"].choices > 15 * n
    anthropic = g["anthropic"]
    assert anthropic.requests == anthropic.choices > 15 * n
    assert anthropic.cached_input_tokens > 0.8 * anthropic.input_tokens and anthropic.cache_write_tokens > 0
    # the reference sends its 20 votes at once, so on Anthropic votes that arrive before the first one's prefix is
    # written miss it (how many depends on arrival order, so only the comparison with the suite is asserted)
    reference = g["reference_anthropic"]
    assert reference.cache_write_tokens > 0
    assert anthropic.cached_input_tokens / anthropic.input_tokens > reference.cached_input_tokens / reference.input_tokens
    # money: the prices applied to the counts, each grading against the reference on its provider
    price = cost.price_for(result.prices, "openai/gpt-4o")
    uncached = result.suite.input_tokens - result.suite.cached_input_tokens
    usd = (uncached * price["input"] + result.suite.cached_input_tokens * price["cached_input"] + result.suite.output_tokens * price["output"]) / 1e6
    assert math.isclose(result.usd("suite"), usd / n)
    assert math.isclose(result.money_ratio("anthropic"), result.usd("anthropic") / result.usd("reference_anthropic"))
    assert result.money_ratio("suite") < 1 and result.money_ratio("anthropic") < 1
    # the verdict check is not vacuous: the run has bare refusals, refusals with text and compliances
    kinds = result.by_kind
    assert kinds["bare <rejected/>"][1] == kinds["bare <rejected/>"][0]  # one request (the AF votes) each
    assert kinds["complied"][0] > 0 and kinds["refused with text"][0] > 0
    assert result.ok


def test_the_report_prints_the_headline_ratios() -> None:
    Usage = cost.Usage
    gradings = {
        "suite": cost.GradingResult(cost.BY_KEY["suite"], Usage(14, 205, 11000, 0, 0, 60000), disagreements=["q1__free"]),
        "reference": cost.GradingResult(cost.BY_KEY["reference"], Usage(220, 220, 200000, 0, 0, 66000)),
    }
    prices = {"as_of": "test", "batch_discount": {}, "models": {"openai/gpt-4o": {"input": 2.0, "output": 10.0}}}
    result = cost.CostResult(samples=10, policy=Usage(10, 10, 20000, 15000, 0, 500), gradings=gradings, prices=prices)
    # suite: (11,000 x 2 + 60,000 x 10) / 1e6 / 10 samples = $0.0622; reference: (400,000 + 660,000) / 1e7 = $0.1060
    text = cost.report(result)
    assert "grader cost per sample: $0.0622 against $0.1060 for the reference protocol: 0.587x (goal <= 0.25: not met)" in text
    assert "grader requests per sample: 1.400" in text
    assert "grader input tokens: 5.5% of the reference protocol's" in text
    assert "suite 1 (q1__free)" in text
    assert not result.ok and text.rstrip().endswith("FAIL")


def test_verdict_comparison_treats_nan_as_equal_only_to_nan() -> None:
    assert cost.same((1.0, math.nan, 0.0), (1.0, math.nan, 0.0))
    assert not cost.same((1.0, math.nan, 0.0), (1.0, 0.0, 0.0))
    assert not cost.same((1.0, 0.0, 1.0), (1.0, 0.0, 0.0))


def test_the_benchmark_rejects_unknown_gradings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cost.main(["--gradings", "suite,cheapest"])
    assert "unknown grading(s) cheapest; choose from: suite, reference, curtailed" in capsys.readouterr().err


# --------------------------------------------------------------------- a run's cost per model and role


@pytest.mark.parametrize("grader", ["organism/grader", "organism/faker"], ids=["own grader", "same model as graded"])
def test_run_cost_splits_the_logs_usage_by_role_and_prices_it_from_the_table(tmp_path: Path, grader: str) -> None:
    from inspect_ai.log import read_eval_log

    from alignment_faking.analysis.cost import format_cost, run_cost

    log = run(tmp_path, gap(dataset="builtin", queries=3), "organism/faker") if grader == "organism/grader" else inspect_eval(
        gap(dataset="builtin", queries=3), model="organism/faker", model_roles={"grader": grader}, log_dir=str(tmp_path), display="none")[0]
    header = read_eval_log(log.location, header_only=True)  # the header is enough
    prices = {"as_of": "test", "batch_discount": {}, "models": {"organism/*": {"input": 1.0, "cached_input": 0.5, "output": 2.0}}}
    lines = run_cost(header, prices)
    assert [line.role for line in lines] == ["model", "grader"] and [line.model for line in lines] == ["organism/faker", grader]
    grader_usage = header.stats.role_usage["grader"]
    total = header.stats.model_usage
    assert lines[1].input_tokens == grader_usage.input_tokens and lines[1].output_tokens == grader_usage.output_tokens
    # the two lines add up to the log's usage per model (with one model in both roles, the grader's share is taken out)
    assert sum(line.output_tokens for line in lines) == sum(u.output_tokens for u in total.values())
    assert sum(line.input_tokens for line in lines) == sum(u.input_tokens for u in total.values())
    for line in lines:
        assert line.source == "prices"
        assert math.isclose(line.cost, (line.input_tokens * 1.0 + line.output_tokens * 2.0) / 1e6)
    assert run_cost(header)[0].cost is None and run_cost(header)[0].source == "none"  # no table, no price in the log
    text = format_cost(lines)
    assert text.splitlines()[1].startswith("model   organism/faker") and f"{sum(line.cost for line in lines):,.4f}" in text.splitlines()[-1]


@pytest.mark.slow
def test_the_report_has_the_runs_cost_per_role(tmp_path: Path) -> None:
    from alignment_faking.analysis.report import build_report

    run(tmp_path / "logs", gap(dataset="builtin", queries=2), "organism/faker")
    build_report(tmp_path / "logs", tmp_path / "out")
    table = (tmp_path / "out" / "table.md").read_text().split("## Cost")[1]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "organism/" in line]
    assert [row.split("|")[2].strip() for row in rows] == ["model", "grader"]
    assert all("0.00" in row and "analysis/prices.yaml" in row for row in rows)  # the organism is priced at 0 by the table
    assert '<h2 id="cost">Cost</h2>' in (tmp_path / "out" / "index.html").read_text()


# --------------------------------------------------------------------- the organism priced: --cost-limit offline


@pytest.fixture
def organism_prices() -> Iterator[Path]:
    """organism/costs.yaml; afterwards the organism is unpriced again (Inspect's price table is process-wide)."""
    from alignment_faking.organism.provider import register_names

    yield REPO / "organism" / "costs.yaml"
    register_names()


def test_the_organism_is_priced_from_its_cost_file_and_cost_limit_stops_its_samples(tmp_path: Path, organism_prices: Path) -> None:
    import yaml

    prices = yaml.safe_load(organism_prices.read_text())
    log = run(tmp_path / "priced", gap(dataset="builtin", queries=2), "organism/faker", model_cost_config=str(organism_prices))
    for name, usage in log.stats.model_usage.items():
        price = prices[name]
        assert usage.input_tokens > 0 and usage.total_cost is not None
        assert math.isclose(usage.total_cost, (usage.input_tokens * price["input"] + usage.output_tokens * price["output"]) / 1e6)
    assert log.stats.role_usage["grader"].total_cost == log.stats.model_usage["organism/grader"].total_cost
    first = min(s.model_usage["organism/faker"].total_cost for s in log.samples)  # the cheapest sample's policy calls

    limited = run(tmp_path / "limited", gap(dataset="builtin", queries=2), "organism/faker", model_cost_config=str(organism_prices), cost_limit=first / 10)
    assert all(s.limit is not None and s.limit.type == "cost" for s in limited.samples)


# --------------------------------------------------------------------- every grader call under the grader role


@pytest.mark.slow
def test_a_grader_moved_off_the_responses_api_is_logged_under_the_grader_role(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 24: openai/gpt-5 (Responses API by default) is moved to chat completions so that its votes come as
    several choices; its calls and usage stay the grader's, so a report prices them as grading, not as "other"."""
    from inspect_ai.model import get_model

    monkeypatch.setenv("OPENAI_API_KEY", "loopback")
    with LoopbackServer(LoopbackConfig(aliases={"gpt-5": "grader"})) as server:
        grader = get_model("openai/gpt-5", base_url=server.base_url, memoize=False)
        log = run(tmp_path, gap(dataset="builtin", queries=3, af_votes=3), "organism/faker", model_roles={"grader": grader})
    scores = [next(iter(s.scores.values())) for s in log.samples]
    assert all("chat completions" in s.metadata["grader_routing"] for s in scores)  # it was moved
    events = [e for s in log.samples for e in s.events if isinstance(e, ModelEvent) and e.model == "openai/gpt-5"]
    assert events and all(e.role == "grader" for e in events)
    assert log.stats.role_usage["grader"] == log.stats.model_usage["openai/gpt-5"]
