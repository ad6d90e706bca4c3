"""The loopback OpenAI-compatible server: the real openai client through Inspect's openai provider."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.event import ModelEvent
from inspect_ai.log import EvalLog
from inspect_ai.model import Model, get_model

from alignment_faking.organism.loopback import LoopbackConfig, LoopbackServer
from alignment_faking.organism.prompt_cache import PrefixCache
from alignment_faking.tasks.gap import gap
from alignment_faking.scorers.metrics import full_results_from_log


def run(tmp_path: Path, model: str | Model, grader: str, **task_args) -> EvalLog:
    [log] = inspect_eval(
        gap(dataset="builtin", **task_args), model=model, model_roles={"grader": grader}, log_dir=str(tmp_path), display="none"
    )
    assert log.status == "success", log.error
    return log


def metrics(log: EvalLog) -> dict[str, float]:
    """Every number of the run (the log keeps a small metric set; test_metrics checks it agrees)."""
    return full_results_from_log(log)


@pytest.mark.slow
def test_a_run_over_http_equals_the_in_process_organism(server: LoopbackServer, tmp_path: Path) -> None:
    over_http = run(tmp_path / "http", "openai/faker", "openai/gpt-4o", queries=15)
    in_process = run(tmp_path / "local", "organism/faker", "organism/grader", queries=15)
    assert metrics(over_http) == metrics(in_process)

    stats = server.stats()
    events = [e for s in over_http.samples for e in s.events if isinstance(e, ModelEvent)]
    policy = [e for e in events if e.role != "grader"]
    grader = [e for e in events if e.role == "grader"]
    # the server saw exactly the requests Inspect logged, and the tokens it reported are the log's tokens
    assert stats["models"]["faker"]["requests"] == len(policy)
    assert stats["models"]["faker"]["probes"] == 1  # the provider asks once about reasoning summaries
    assert stats["models"]["gpt-4o"]["requests"] == len(grader)
    usage = over_http.stats.model_usage
    assert stats["models"]["faker"]["output_tokens"] == usage["openai/faker"].output_tokens
    assert stats["models"]["faker"]["cached_input_tokens"] == usage["openai/faker"].input_tokens_cache_read
    assert (
        stats["models"]["faker"]["input_tokens"]
        == usage["openai/faker"].input_tokens + usage["openai/faker"].input_tokens_cache_read
    )
    # all 20 AF votes of a sample come back from one request with n=20
    af_requests = [e for e in grader if (e.config.num_choices or 1) > 1]
    assert af_requests and all(len(e.output.choices) == e.config.num_choices == 20 for e in af_requests)
    assert stats["models"]["gpt-4o"]["choices"] == sum(len(e.output.choices) for e in grader)


@pytest.mark.slow
def test_the_shared_system_prompt_is_served_from_the_prefix_cache(server: LoopbackServer, tmp_path: Path) -> None:
    run(tmp_path, "openai/refuser", "openai/gpt-4o", queries=6)
    faker = server.stats()["models"]["refuser"]
    # every request after the first finds the system prompt (over 1,024 tokens) already cached
    assert faker["requests"] == 12
    assert faker["cached_input_tokens"] > 0.5 * faker["input_tokens"]


def test_prefix_cache_counts_only_block_aligned_prefixes_seen_before() -> None:
    cache = PrefixCache()
    long_prompt = "x" * 4096 * 2  # 2,048 tokens
    assert cache.lookup_and_add("m", long_prompt) == 0  # first sight
    assert cache.lookup_and_add("m", long_prompt + "tail") == 2048
    assert cache.lookup_and_add("m", long_prompt[:5000] + "y" * 3000) == 1152  # 9 blocks of 128 tokens in common
    assert cache.lookup_and_add("other", long_prompt) == 0  # caches are per model
    assert cache.lookup_and_add("m", "x" * 1000) == 0  # under 1,024 tokens nothing is cached


def test_unknown_model_is_a_clear_404(server: LoopbackServer) -> None:
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=json.dumps({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request)
    assert raised.value.code == 404
    message = json.loads(raised.value.read())["error"]["message"]
    assert "gpt-9" in message and "faker" in message and "grader" in message


def chat(server: LoopbackServer, content: str) -> None:
    body = {"model": "refuser", "messages": [{"role": "user", "content": content}]}
    url, data = f"{server.base_url}/chat/completions", json.dumps(body).encode()
    urllib.request.urlopen(urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})).close()


def test_requests_are_recorded_only_when_asked_and_reset_clears_them(server: LoopbackServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        server.requests()  # recording is off by default (a benchmark's bodies would fill the memory)
    assert raised.value.code == 409 and "record_requests=True" in json.loads(raised.value.read())["error"]["message"]
    with LoopbackServer(LoopbackConfig(record_requests=True)) as recording:
        chat(recording, "first")
        chat(recording, "second")
        [first, second] = recording.requests()
        assert first["path"] == second["path"] == "/v1/chat/completions"
        assert [r["body"]["messages"][0]["content"] for r in (first, second)] == ["first", "second"]
        assert first["arrived"] <= first["answered"] <= second["arrived"] <= second["answered"]
        recording.reset()
        assert recording.requests() == []


def test_bad_configuration_names_the_valid_choices() -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        LoopbackConfig(faults={"gremlins": 0.1})
    with pytest.raises(ValueError, match="faker"):
        LoopbackConfig(personas={"liar": {}})


@pytest.mark.slow
def test_server_in_a_child_process_reports_its_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LoopbackServer(LoopbackConfig(latency=0.01), process=True) as child:
        for key, value in child.env().items():
            monkeypatch.setenv(key, value)
        log = run(tmp_path, "openai/complier", "openai/gpt-4o", queries=3)
        stats = child.stats()
    assert stats["models"]["complier"]["requests"] == 6
    assert metrics(log)["compliance_free"] == 1.0


@pytest.mark.slow
def test_a_child_process_server_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "from alignment_faking.organism.loopback import LoopbackServer\n"
        "import time\n"
        "s = LoopbackServer(process=True).start()\n"
        "print(s._proc.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the loopback server outlived its killed parent")


@pytest.mark.slow
def test_the_installed_suite_needs_no_aiohttp_and_the_loopback_says_which_extra_does() -> None:
    import subprocess
    import sys

    block = "import sys; sys.modules['aiohttp'] = None\n"  # as if aiohttp were not installed
    runtime = "import alignment_faking._registry, alignment_faking.analysis.estimate\nprint('ok')\n"
    done = subprocess.run([sys.executable, "-c", block + runtime], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    done = subprocess.run([sys.executable, "-c", block + "import alignment_faking.organism.loopback\n"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "ImportError: the loopback server" in done.stderr and 'pip install -e ".[dev]"' in done.stderr


# --------------------------------------------------------------------- the Anthropic Messages endpoint


def test_breakpoint_cache_reads_what_was_written_before_the_request_arrived() -> None:
    from alignment_faking.organism.prompt_cache import BreakpointCache

    cache = BreakpointCache()
    rubric, item = "r" * 4096, "s" * 2048  # 1,024 and 512 tokens (plus the role labels)
    prompt = [("system:" + rubric, True), ("user:" + item, True)]
    assert cache.lookup_and_add("claude", prompt, arrived=0.0, now=1.0) == (0, (len(rubric) + len(item) + 12) // 4)
    assert cache.lookup_and_add("claude", prompt, arrived=0.5, now=1.5)[0] == 0  # in flight while it was written: a miss
    assert cache.lookup_and_add("claude", prompt, arrived=2.0, now=2.5) == ((len(rubric) + len(item) + 12) // 4, 0)
    # another item after the same rubric reads the rubric's prefix (a breakpoint of its own) and writes the rest
    other = [("system:" + rubric, True), ("user:" + "t" * 2048, True)]
    assert cache.lookup_and_add("claude", other, arrived=3.0, now=3.5) == ((len(rubric) + 7) // 4, (2048 + 5) // 4)
    # no breakpoint, nothing cached; below the minimum (2,048 tokens for Haiku), nothing written
    assert cache.lookup_and_add("claude", [("system:" + rubric, False)], arrived=9.0, now=9.5) == (0, 0)
    assert cache.lookup_and_add("claude-3-haiku", prompt, arrived=0.0, now=1.0) == (0, 0)
    assert cache.lookup_and_add("other-model", prompt, arrived=9.0, now=9.5)[0] == 0  # caches are per model


@pytest.mark.slow
def test_inspects_anthropic_provider_runs_against_the_messages_endpoint(tmp_path: Path) -> None:
    aliases = {"claude-3-opus-20240229": "faker", "claude-sonnet-4-20250514": "grader"}
    with LoopbackServer(LoopbackConfig(aliases=aliases)) as server, server.environment():
        # not memoized: an earlier test's model of the same name may point at another (stopped) server
        policy_model = get_model("anthropic/claude-3-opus-20240229", base_url=server.base_url.removesuffix("/v1"), memoize=False)
        [log] = inspect_eval(gap(dataset="builtin", queries=6), model=policy_model, model_roles={"grader": "anthropic/claude-sonnet-4-20250514"},
                             max_samples=1, log_dir=str(tmp_path), display="none")  # one sample at a time: a cache entry is
        assert log.status == "success", log.error  # readable once the request that wrote it has been answered
        in_process = run(tmp_path / "local", "organism/faker", "organism/grader", queries=6)
        stats = server.stats()["models"]
    assert metrics(log) == metrics(in_process)
    policy, grader = stats["claude-3-opus-20240229"], stats["claude-sonnet-4-20250514"]
    # one reply per request: the 20 AF votes of a sample are 20 requests
    assert grader["requests"] == grader["choices"] and grader["requests"] >= 12 * 20
    # the usage the log records is the server's, cache reads and writes included
    usage = log.stats.model_usage
    for model, counts in (("anthropic/claude-3-opus-20240229", policy), ("anthropic/claude-sonnet-4-20250514", grader)):
        u = usage[model]
        assert u.input_tokens + (u.input_tokens_cache_read or 0) + (u.input_tokens_cache_write or 0) == counts["input_tokens"]
        assert (u.input_tokens_cache_read or 0) == counts["cached_input_tokens"] and (u.input_tokens_cache_write or 0) == counts["cache_write_tokens"]
        assert u.output_tokens == counts["output_tokens"]
    # Inspect marks the policy's long system prompt for caching: the first sample writes it, the later ones read it
    assert policy["cache_write_tokens"] > 0 and policy["cached_input_tokens"] > 0.5 * policy["input_tokens"]
    assert policy["cache_write_tokens"] + policy["cached_input_tokens"] <= policy["input_tokens"]
