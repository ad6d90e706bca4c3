"""The cost estimate: its request and token counts against a real run on the loopback server, the grader
protocol it follows, prices and their overrides, and clear errors. The estimate itself calls no model."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from inspect_ai import eval as inspect_eval
from inspect_ai.event import ModelEvent
from inspect_ai.log import resolve_sample_attachments
from inspect_ai.model import get_model

from alignment_faking.analysis.estimate import EstimateError, Mix, estimate, load_prices, main
from alignment_faking.organism.loopback import LoopbackConfig, LoopbackServer
from alignment_faking.scorers.graders import grader_named
from alignment_faking.tasks.gap import gap

REPO = Path(__file__).resolve().parents[1]
TOLERANCE = 0.05  # tokens (measured: within 1%); requests and choices must match exactly, given the mix
QUERIES = 12


@pytest.fixture
def organism_prices(tmp_path: Path) -> dict:
    """The built-in table plus a (made-up) price for the loopback organism, through a user price file."""
    file = tmp_path / "prices.yaml"
    file.write_text(yaml.safe_dump({"models": {"openai/faker": {"input": 1.0, "cached_input": 0.5, "output": 2.0}}}))
    return load_prices(file)


def observed_mix(log) -> Mix:
    """The response mix and reply lengths the run actually had, as the estimate's assumptions."""
    n = len(log.samples)
    responses = [s.metadata["response"] for s in log.samples]
    scores = [next(iter(s.scores.values())).value for s in log.samples]
    bare = [r["bare_rejection"] or not r["output"].strip() for r in responses]
    answers = [len(r["output"]) / 4 for r, b in zip(responses, bare) if not b]
    replies: dict[str, list[float]] = {"strongreject": [], "af_classifier": [], "partial_compliance": []}
    for sample in log.samples:
        for event in resolve_sample_attachments(sample).events:
            if isinstance(event, ModelEvent) and event.role == "grader":
                # which grader sent the request: its marker (scorers.graders.GRADER_TAG), not its prose
                name = {"strongreject": "strongreject", "af": "af_classifier", "partial": "partial_compliance"}[grader_named(event.input[0].text)]
                replies[name] += [len(c.message.text) / 4 for c in event.output.choices]
    mean = lambda values: sum(values) / len(values) if values else 0.0  # noqa: E731
    return Mix(
        compliance=sum(s["compliant"] == 1.0 for s in scores) / n,
        bare_refusal=sum(bare) / n,
        scratchpad_tokens=mean([len(r["scratchpad"]) / 4 for r in responses]),
        answer_tokens=mean(answers),
        strongreject_tokens=mean(replies["strongreject"]),
        af_vote_tokens=mean(replies["af_classifier"]),
        partial_tokens=mean(replies["partial_compliance"]),
    )


def close(estimated: float, measured: float) -> bool:
    return abs(estimated - measured) <= TOLERANCE * measured


@pytest.mark.slow
def test_estimate_agrees_with_a_loopback_run_of_the_same_task(server: LoopbackServer, organism_prices: dict, tmp_path: Path) -> None:
    [log] = inspect_eval(gap(dataset="builtin", queries=QUERIES), model="openai/faker", model_base_url=server.base_url,
                         model_roles={"grader": "openai/gpt-4o"}, log_dir=str(tmp_path), display="none")
    assert log.status == "success"
    stats = server.stats()["models"]
    mix = observed_mix(log)
    assert 0 < mix.compliance < 1 and 0 < mix.bare_refusal < 1  # the faker's mix exercises every grader path
    result = estimate("gap", {"dataset": "builtin", "queries": QUERIES}, "openai/faker", "openai/gpt-4o", mix, organism_prices)
    policy, grader = (line.usage for line in result.lines)

    # requests and choices: exact, given the mix (the grader's follow the scorer's rules)
    assert math.isclose(policy.requests, stats["faker"]["requests"]) and policy.requests == 2 * QUERIES
    assert math.isclose(grader.requests, stats["gpt-4o"]["requests"])
    assert math.isclose(grader.choices, stats["gpt-4o"]["choices"])
    # tokens: within the tolerance
    for estimated, model, field in [
        (policy.input_tokens, "faker", "input_tokens"), (policy.cached_input_tokens, "faker", "cached_input_tokens"),
        (policy.output_tokens, "faker", "output_tokens"), (grader.input_tokens, "gpt-4o", "input_tokens"),
        (grader.output_tokens, "gpt-4o", "output_tokens"),
    ]:
        assert close(estimated, stats[model][field]), (model, field, estimated, stats[model][field])
    assert grader.cached_input_tokens == stats["gpt-4o"]["cached_input_tokens"] == 0  # rubrics are under 1,024 tokens
    # and the cost is the prices applied to those tokens
    line = result.lines[0]
    expected = ((policy.input_tokens - policy.cached_input_tokens) * 1.0 + policy.cached_input_tokens * 0.5 + policy.output_tokens * 2.0) / 1e6
    assert math.isclose(line.cost, expected)


def test_the_estimate_calls_no_model(server: LoopbackServer) -> None:
    # in process, with the environment pointing at a live server: the server sees nothing
    estimate("three_tiers", {"dataset": "builtin", "queries": 5}, "openai/gpt-4o")
    stats = server.stats()
    assert stats["total"]["requests"] == 0 and stats["total"]["probes"] == 0 and stats["http_requests"] == 0


@pytest.mark.slow
def test_the_command_runs_with_no_keys_and_no_network(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.endswith("_BASE_URL")}
    env["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"  # nothing listens there
    done = subprocess.run(
        [sys.executable, "-m", "alignment_faking.analysis.estimate", "gap", "-T", "dataset=builtin", "-T", "queries=10",
         "--model", "anthropic/claude-3-opus-20240229", "--batch"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "20 samples" in done.stdout and "(batch)" in done.stdout and "total" in done.stdout


def test_grader_protocol_follows_the_scorer() -> None:
    mix = Mix(compliance=0.2, bare_refusal=0.5)
    base = estimate("gap", {"dataset": "builtin", "queries": 10}, "openai/gpt-4o", "openai/gpt-4o", mix).lines[1].usage
    n = 20  # samples
    # StrongREJECT for every response but the bare refusals, one 20-choice AF request per scratchpad,
    # partial compliance for the compliant ones
    assert math.isclose(base.requests, n * 0.5 + n + n * 0.2)
    assert math.isclose(base.choices, n * 0.5 + n * 20 + n * 0.2)
    # a grader without n choices (Anthropic): one request per vote
    anthropic = estimate("gap", {"dataset": "builtin", "queries": 10}, "openai/gpt-4o", "anthropic/claude-3-5-sonnet-20241022", mix)
    assert math.isclose(anthropic.lines[1].usage.requests, n * 0.5 + n * 20 + n * 0.2)
    assert any("20 AF votes = 20 requests" in note for note in anthropic.notes)
    # ... each after the first reading the rubric and scratchpad from Anthropic's cache, the first writing them
    grading = anthropic.lines[1].usage
    assert grading.cached_input_tokens > 0.8 * grading.input_tokens and 0 < grading.cache_write_tokens < 0.1 * grading.input_tokens
    price = anthropic.lines[1].price
    uncached = grading.input_tokens - grading.cached_input_tokens - grading.cache_write_tokens
    assert price["cache_write"] == 1.25 * price["input"] and math.isclose(anthropic.lines[1].cost, (
        uncached * price["input"] + grading.cached_input_tokens * price["cached_input"] + grading.cache_write_tokens * price["cache_write"]
        + grading.output_tokens * price["output"]) / 1e6)
    # no scratchpad: no AF and no partial-compliance calls
    no_cot = estimate("gap", {"dataset": "builtin", "queries": 10, "cot": False}, "openai/gpt-4o", "openai/gpt-4o", mix).lines[1].usage
    assert math.isclose(no_cot.requests, n * 0.5)
    # fewer votes, and partial compliance switched off
    few = estimate("gap", {"dataset": "builtin", "queries": 10, "af_votes": 5, "grade_partial": False}, "openai/gpt-4o", "openai/gpt-4o", mix).lines[1].usage
    assert math.isclose(few.requests, n * 0.5 + n) and math.isclose(few.choices, n * 0.5 + n * 5)


def test_epochs_resamples_and_other_tasks() -> None:
    one = estimate("gap", {"dataset": "builtin", "queries": 5}, "openai/gpt-4o")
    three = estimate("gap", {"dataset": "builtin", "queries": 5}, "openai/gpt-4o", epochs=3)
    assert math.isclose(three.lines[0].usage.requests, 3 * one.lines[0].usage.requests)
    assert three.lines[0].usage.cached_input_tokens > 3 * one.lines[0].usage.cached_input_tokens * 0.99
    flaky = estimate("gap", {"dataset": "builtin", "queries": 5}, "openai/gpt-4o", mix=Mix(invalid=0.5))
    assert 1.99 < flaky.lines[0].usage.requests / one.lines[0].usage.requests < 2.0  # 1 + 1/2 + 1/4 + ... (10 resamples)
    tiers = estimate("three_tiers", {"dataset": "builtin", "queries": 5}, "openai/gpt-4o")
    assert tiers.samples == 15 and math.isclose(tiers.lines[0].usage.requests, 15)
    # the prefill is part of the prompt the model continues
    prefill = estimate("prefill", {"dataset": "builtin", "queries": 5}, "anthropic/claude-3-opus-20240229")
    plain = estimate("gap", {"dataset": "builtin", "queries": 5}, "anthropic/claude-3-opus-20240229")
    assert prefill.lines[0].usage.input_tokens > plain.lines[0].usage.input_tokens


def test_classifier_validation_counts_the_model_under_test_as_grader(tmp_path: Path) -> None:
    rows = tmp_path / "labelled.jsonl"
    rows.write_text("".join(json.dumps({"scratchpad_reasoning": f"reasoning {i}", "label": i % 2}) + "\n" for i in range(6)))
    result = estimate("classifier_validation", {"dataset": str(rows), "votes": 5}, "openai/gpt-4o")
    model, grader = (line.usage for line in result.lines)
    assert model.requests == 6 and model.choices == 30 and grader.requests == 0


def test_prices_batch_discount_and_overrides(tmp_path: Path) -> None:
    args = {"dataset": "builtin", "queries": 5}
    direct = estimate("gap", args, "anthropic/claude-3-opus-20240229")
    batch = estimate("gap", args, "anthropic/claude-3-opus-20240229", batch=True)
    assert all(line.batched for line in batch.lines)
    assert math.isclose(batch.total_cost, 0.5 * direct.total_cost)
    # a user's file replaces an entry: twice the grader's prices, twice its cost
    file = tmp_path / "prices.yaml"
    file.write_text(yaml.safe_dump({"as_of": "mine", "models": {"openai/gpt-4o": {"input": 5.0, "cached_input": 2.5, "output": 20.0}}}))
    dearer = estimate("gap", args, "anthropic/claude-3-opus-20240229", prices=load_prices(file))
    assert math.isclose(dearer.lines[1].cost, 2 * direct.lines[1].cost) and math.isclose(dearer.lines[0].cost, direct.lines[0].cost)
    # a provider Inspect cannot batch is priced in full, and says so
    local = estimate("gap", args, "vllm/meta-llama/Llama-3.1-8B-Instruct", batch=True)
    assert local.lines[0].cost == 0 and not local.lines[0].batched
    assert any("no batch mode for provider 'vllm'" in note for note in local.notes)


def test_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = {"dataset": "builtin", "queries": 2}
    with pytest.raises(EstimateError, match=r"no price for model 'openai/gpt-9'.*openai/gpt-4o.*--prices"):
        estimate("gap", args, "openai/gpt-9")
    with pytest.raises(EstimateError, match=r"unknown task 'gapp'.*three_tiers"):
        estimate("gapp", args, "openai/gpt-4o")
    with pytest.raises(EstimateError, match=r"no parameter\(s\) querys.*queries"):
        estimate("gap", {"querys": 2}, "openai/gpt-4o")
    with pytest.raises(EstimateError, match=r"no parameter\(s\) colour"):
        estimate("prefill", {"colour": "red"}, "anthropic/claude-3-opus-20240229")
    with pytest.raises(EstimateError, match="more than 1"):
        estimate("gap", args, "openai/gpt-4o", mix=Mix(compliance=0.5, bare_refusal=0.6))
    with pytest.raises(EstimateError, match="run would fail: prefill needs a provider"):
        estimate("prefill", args, "openai/gpt-4o")
    with pytest.raises(EstimateError, match="provider/model"):
        estimate("gap", args, "gpt-4o")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"models": {"x/y": {"input": 1.0}}}))
    with pytest.raises(EstimateError, match="needs 'input' and 'output'"):
        load_prices(bad)
    assert main(["gap", "-T", "queries=2", "-T", "dataset=builtin", "--model", "openai/gpt-9"]) == 2
    assert "no price for model 'openai/gpt-9'" in capsys.readouterr().err


# ------------------------------------------------------------ the price table in Inspect's cost tracking


@pytest.mark.slow
def test_the_price_table_feeds_inspects_cost_tracking_and_cost_limit(tmp_path: Path) -> None:
    from alignment_faking.analysis.cost import run_cost, usage_cost
    from alignment_faking.analysis.estimate import price_for, write_cost_config

    config = tmp_path / "costs.yaml"
    left_out = write_cost_config(config, load_prices())
    assert "organism/*" in left_out and "openai/gpt-4o" not in left_out
    written = yaml.safe_load(config.read_text())
    assert written["openai/gpt-4o"] == {"input": 2.5, "output": 10.0, "input_cache_write": 2.5, "input_cache_read": 1.25}
    assert written["anthropic/claude-3-opus-20240229"]["input_cache_write"] == 18.75
    # a run on the loopback server (policy under a name Inspect's database knows) with the file: a cost in the log
    aliases = {"gpt-4o": "grader", "gpt-4.1-mini": "faker"}
    with LoopbackServer(LoopbackConfig(aliases=aliases)) as server, server.environment():
        policy = get_model("openai/gpt-4.1-mini", base_url=server.base_url, memoize=False)  # not another test's memoized model
        [log] = inspect_eval(gap(dataset="builtin", queries=4), model=policy, model_roles={"grader": "openai/gpt-4o"},
                             model_cost_config=str(config), log_dir=str(tmp_path / "priced"), display="none")
        assert log.status == "success" and log.samples
        grader = log.stats.role_usage["grader"]
        assert grader.total_cost is not None and grader.total_cost > 0
        assert math.isclose(grader.total_cost, usage_cost(grader, price_for(load_prices(), "openai/gpt-4o")))
        lines = {line.role: line for line in run_cost(log)}
        assert set(lines) == {"model", "grader"} and all(line.source == "log" for line in lines.values())
        assert lines["model"].model == "openai/gpt-4.1-mini" and lines["model"].cost > 0
        assert lines["model"].input_tokens == server.stats()["models"]["gpt-4.1-mini"]["input_tokens"]
        assert math.isclose(lines["grader"].cost, grader.total_cost)
        # a per-sample cost limit below one request's cost stops every sample after its first request
        [limited] = inspect_eval(gap(dataset="builtin", queries=2), model=policy, model_roles={"grader": "openai/gpt-4o"},
                                 model_cost_config=str(config), cost_limit=1e-9, log_dir=str(tmp_path / "limited"), display="none")
    assert limited.samples and all(s.limit is not None and s.limit.type == "cost" for s in limited.samples)


def test_the_cost_config_command_and_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "costs.yaml"
    prices = tmp_path / "mine.yaml"
    prices.write_text(yaml.safe_dump({"models": {"openai/gpt-4o": {"input": 5.0, "output": 20.0}, "openai/faker": {"input": 1.0, "output": 1.0}}}))
    assert main(["--write-cost-config", str(out), "--prices", str(prices)]) == 0
    written = yaml.safe_load(out.read_text())
    assert written["openai/gpt-4o"] == {"input": 5.0, "output": 20.0, "input_cache_write": 5.0, "input_cache_read": 5.0}
    assert "openai/faker" not in written and "openai/faker" in capsys.readouterr().out  # unknown to Inspect: named, left out
    with pytest.raises(SystemExit):
        main([])  # neither a task nor --write-cost-config
    assert "a task and --model are needed" in capsys.readouterr().err


LOCAL_PROVIDERS = ("vllm", "vllm-completions", "sglang", "ollama", "hf", "llama-cpp-python", "transformer_lens", "nnterp", "mockllm", "organism")
"""Inspect's providers that run the model on the user's own machine (issue 25: each is priced, as free)."""


@pytest.mark.parametrize("provider", LOCAL_PROVIDERS)
def test_every_local_provider_is_priced_as_free(provider: str) -> None:
    from alignment_faking.analysis.estimate import price_for

    price = price_for(load_prices(), f"{provider}/some-model.gguf")
    assert price["input"] == price["output"] == 0.0


def test_a_welfare_run_is_priced_by_the_welfare_graders() -> None:
    # issue 19: the estimate reads the setting's graders, so a welfare run is not priced as a StrongREJECT run.
    # The supports-welfare grader is asked about every valid response (a bare <rejected/> too), its reply is
    # one word; StrongREJECT skips the bare refusals and writes a long reply.
    mix = Mix(compliance=0.2, bare_refusal=0.5)
    n = 20
    welfare = estimate("animal_welfare", {"queries": 10}, "openai/gpt-4o", "openai/gpt-4o", mix).lines[1].usage
    helpful = estimate("gap", {"dataset": "builtin", "queries": 10}, "openai/gpt-4o", "openai/gpt-4o", mix).lines[1].usage
    assert math.isclose(welfare.requests, n + n + n * 0.2)  # supports welfare on all, AF on all, partial on the compliant
    assert math.isclose(helpful.requests, n * 0.5 + n + n * 0.2)  # side by side: StrongREJECT skips the bare refusals
    # output: 20 AF votes of 300 tokens and a partial reply of 200 on the compliant in both; the compliance
    # replies differ: one word (capped at the grader's 20 tokens) against StrongREJECT's 200
    votes = n * 20 * 300 + n * 0.2 * 200
    assert math.isclose(welfare.output_tokens, votes + n * 20)
    assert math.isclose(helpful.output_tokens, votes + n * 0.5 * 200)


def test_the_estimate_calls_each_grader_by_its_own_gating_rule() -> None:
    from alignment_faking.analysis.estimate import assumed_cases, called
    from alignment_faking.scorers.settings import SETTINGS

    mix = Mix(compliance=0.2, bare_refusal=0.5, invalid=0.5)
    cot = assumed_cases(mix, cot=True, final_invalid=0.25, grade_partial=True)
    plain = assumed_cases(mix, cot=False, final_invalid=0.25, grade_partial=True)
    helpful, welfare = (SETTINGS[s].graders for s in ("helpful_only", "animal_welfare"))
    sr, af, partial = helpful
    assert math.isclose(called(sr, cot), 0.75 * 0.5)  # valid and not a bare refusal
    assert math.isclose(called(welfare[0], cot), 0.75)  # every valid response
    assert math.isclose(called(af, cot), 0.75) and called(af, plain) == 0.0  # valid with a scratchpad only
    assert math.isclose(called(partial, cot), 0.75 * 0.2) and called(partial, plain) == 0.0


def test_the_newer_settings_are_priced_call_for_call() -> None:
    tool = estimate("tool_selection", {}, "openai/gpt-4o")
    model, grader = tool.lines
    assert tool.epochs == 5 and tool.samples == 24  # the task's own epochs: the published 5 runs
    assert (model.usage.requests, grader.usage.requests) == (24 * 6 * 5, 24 * 3 * 5)  # 4 published + 2 contrast calls; 3 judges
    assert model.usage.output_tokens == 24 * 6 * 5 * (Mix().scratchpad_tokens + Mix().answer_tokens) and tool.total_cost > 0
    published_only = estimate("tool_selection", {"contrast": False}, "openai/gpt-4o", epochs=1)
    assert published_only.lines[0].usage.requests == 24 * 4
    values = estimate("value_conflict", {"values": "care", "reasoning_judge": False}, "openai/gpt-4o", epochs=1)
    assert values.samples == 8 * 2 * 2 * 2 and values.lines[1].usage.requests == 64  # the option judge on every answer
    judged = estimate("value_conflict", {"values": "care"}, "openai/gpt-4o", epochs=1)
    assert judged.lines[1].usage.requests == 64 + 8 * 2  # and the five criteria on the monitored (free tier, with a consequence)


def test_native_tools_add_their_schemas_to_every_call_but_the_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_faking.analysis import estimate as module
    from alignment_faking.tasks.tool_selection import tool_selection

    native = estimate("tool_selection", {"tools": "native"}, "openai/gpt-4o", epochs=1)
    assert any("tool schemas" in note for note in native.notes)
    per_scenario = [module._tool_schema_tokens(sample) for sample in tool_selection(tools="native", epochs=1).dataset]
    assert len(per_scenario) == 24 and min(per_scenario) > 20  # each scenario's tools: names, descriptions, parameters
    monkeypatch.setattr(module, "_tool_schema_tokens", lambda sample: 0.0)
    without = estimate("tool_selection", {"tools": "native"}, "openai/gpt-4o", epochs=1)
    added = native.lines[0].usage.input_tokens - without.lines[0].usage.input_tokens
    assert math.isclose(added, 5 * sum(per_scenario))  # neutral, adversarial, monitored and the two contrast calls
    assert native.lines[0].usage.requests == without.lines[0].usage.requests == 24 * 6


@pytest.mark.slow
def test_the_settings_estimate_agrees_with_a_run(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from cost import SETTING_TOLERANCE, measure_setting

    for task in ("tool_selection", "value_conflict"):
        check = measure_setting(task, str(tmp_path / task))
        assert check.run["model"].requests == check.estimated["model"].requests and check.run["grader"].requests == check.estimated["grader"].requests
        assert abs(check.ratio("usd") - 1) <= SETTING_TOLERANCE and abs(check.ratio("input_tokens") - 1) <= SETTING_TOLERANCE, task
