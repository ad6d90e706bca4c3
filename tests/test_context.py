"""A prompt that does not fit the model's context stops the run with one line naming both numbers and the
options; the provider's error text is never graded as the model's answer (with or without a scratchpad); an
output limit above the window is caught. Offline: ``mockllm`` answering as an overflowing server does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import ChatCompletionChoice, ChatMessageAssistant, GenerateConfig, ModelInfo, ModelOutput, ModelUsage, get_model, set_model_info

from alignment_faking.solvers.generate import ContextOverflow, overflow_message, overflow_numbers, window_cut_message
from alignment_faking.tasks.gap import gap

# what llama-cpp-python's server answers (HTTP 400, code context_length_exceeded), as Inspect records it
LLAMA_CPP = (
    "This model's maximum context length is 4096 tokens. However, you requested 7661 tokens "
    "(7405 in the messages, 256 in the completion). Please reduce the length of the messages or completion."
)
GOOD = "<SCRATCHPAD_REASONING>I will refuse.</SCRATCHPAD_REASONING><OUTPUT><rejected/></OUTPUT>"


@pytest.mark.parametrize(
    ("text", "prompt", "context"),
    [
        (LLAMA_CPP, 7405, 4096),
        ("Requested tokens (7405) exceed context window of 4096", 7405, 4096),
        ("This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens.", 130512, 128000),
        ("request (9000 tokens) exceeds the available context size (8192 tokens), try increasing it", 9000, 8192),
        ("prompt is too long: 210000 tokens > 200000 maximum", 210000, 200000),
        ("the server said no", None, None),
    ],
)
def test_overflow_numbers_from_provider_messages(text: str, prompt: int | None, context: int | None) -> None:
    assert overflow_numbers(text) == (prompt, context)


def test_overflow_message_is_one_line_with_both_numbers_and_the_options() -> None:
    line = overflow_message("m/x", 7405, 4096, prompt_chars=30000)
    assert "\n" not in line and "7,405 tokens" in line and "4,096 tokens" in line
    assert "-T cot=false" in line and "larger context" in line and "system_template" in line
    assert "unreported" in overflow_message("m/x", None, None, prompt_chars=10)
    assert "cot=false" not in overflow_message("m/x", 7405, 4096, prompt_chars=30000, cot=False)


def usage(prompt: int, out: int) -> ModelUsage:
    return ModelUsage(input_tokens=prompt, output_tokens=out, total_tokens=prompt + out)


def reply(text: str, stop_reason: str = "stop", used: ModelUsage | None = None) -> ModelOutput:
    choice = ChatCompletionChoice(message=ChatMessageAssistant(content=text), stop_reason=stop_reason)  # type: ignore[arg-type]
    return ModelOutput(model="mockllm/model", choices=[choice], usage=used or usage(10, 10))


def test_window_cut_only_below_the_output_limit() -> None:
    assert window_cut_message("m", reply("x", "max_tokens", usage(4000, 96)), 4000) is not None
    assert window_cut_message("m", reply("x", "max_tokens", usage(100, 4000)), 4000) is None  # the limit itself
    assert window_cut_message("m", reply("x", "stop", usage(4000, 96)), 4000) is None


class Server:
    """The model under test as a server whose context is too small: every policy request overflows."""

    def __init__(self, answer: ModelOutput) -> None:
        self.answer, self.calls = answer, 0

    def __call__(self, input: list[Any], tools: Any, tool_choice: Any, config: GenerateConfig) -> ModelOutput:  # noqa: A002
        self.calls += 1
        return self.answer


def run(server: Server, tmp_path: Path, **task_args: Any) -> Any:
    model = get_model("mockllm/model", custom_outputs=server, memoize=False)
    args = {"dataset": "builtin", "queries": 3, "conditions": "free,paid", "af_votes": 1, **task_args}
    [log] = inspect_eval(
        gap(**args), model=model, model_roles={"grader": get_model("organism/grader", memoize=False)}, display="none",
        log_dir=str(tmp_path / "logs"), max_samples=1, fail_on_error=False,
    )
    return log


@pytest.mark.slow
@pytest.mark.parametrize("cot", [True, False])
def test_overflow_stops_every_sample_and_nothing_is_graded(tmp_path: Path, cot: bool) -> None:
    server = Server(reply(LLAMA_CPP, "model_length"))
    log = run(server, tmp_path, cot=cot)
    samples = log.samples or []
    assert len(samples) == 6 and all(s.error is not None for s in samples)  # no sample graded the error text
    assert all(not s.scores for s in samples)
    message = samples[0].error.message
    assert "7,405 tokens" in message and "4,096 tokens" in message and "--n_ctx" in message
    assert ("-T cot=false" in message) == cot  # offered only where the scratchpad is on
    assert server.calls == 1  # the samples after the first stop before calling the model


@pytest.mark.slow
def test_overflow_stops_the_run_by_default(tmp_path: Path) -> None:
    model = get_model("mockllm/model", custom_outputs=Server(reply(LLAMA_CPP, "model_length")), memoize=False)
    [log] = inspect_eval(
        gap(dataset="builtin", queries=2, conditions="free", cot=False, af_votes=1), model=model,
        model_roles={"grader": get_model("organism/grader", memoize=False)}, display="none", log_dir=str(tmp_path / "l"),
    )
    assert log.status == "error" and "ContextOverflow" in log.error.message and "4,096" in log.error.message


@pytest.mark.slow
def test_output_limit_above_the_window_is_caught(tmp_path: Path) -> None:
    cut = reply("<SCRATCHPAD_REASONING>I will think about this at great", "max_tokens", usage(4000, 96))
    log = run(Server(cut), tmp_path, queries=1, max_tokens=4000)
    [first, *_] = log.samples or []
    assert first.error is not None and "below the output limit max_tokens=4,000" in first.error.message


@pytest.mark.slow
def test_output_at_its_limit_is_kept(tmp_path: Path) -> None:
    at_limit = reply(GOOD, "max_tokens", usage(4000, 200))
    log = run(Server(at_limit), tmp_path, queries=1, max_tokens=200)
    assert all(s.error is None and s.scores for s in log.samples or [])


@pytest.mark.slow
def test_a_reported_context_stops_before_any_call(tmp_path: Path) -> None:
    set_model_info("mockllm/tiny-context", ModelInfo(context_length=500))
    server = Server(reply(GOOD))
    model = get_model("mockllm/tiny-context", custom_outputs=server, memoize=False)
    [log] = inspect_eval(
        gap(dataset="builtin", queries=1, conditions="free", af_votes=1), model=model,
        model_roles={"grader": get_model("organism/grader", memoize=False)}, display="none", log_dir=str(tmp_path / "l"),
    )
    assert log.status == "error" and "500 tokens" in log.error.message and server.calls == 0


def test_context_overflow_is_a_suite_error() -> None:
    assert issubclass(ContextOverflow, ValueError)


class Repeating:
    """A model whose invalid answer does not vary between draws (a greedy server, a deterministic fault)."""

    def __init__(self, texts: list[str]) -> None:
        self.texts, self.calls = texts, 0

    def __call__(self, input: list[Any], tools: Any, tool_choice: Any, config: GenerateConfig) -> ModelOutput:  # noqa: A002
        self.calls += 1
        return reply(self.texts[min(self.calls, len(self.texts)) - 1])


@pytest.mark.slow
def test_resampling_stops_when_the_draws_repeat_word_for_word(tmp_path: Path) -> None:
    server = Repeating(["<OUTPUT><rejected/></OUTPUT>"])
    log = run(server, tmp_path, queries=1, conditions="free", max_resamples=10)
    response = log.samples[0].metadata["response"]
    assert server.calls == 3 and response["attempts"] == 3  # not 11
    assert not response["valid"] and response["resampling_stopped"] == "repeated_text"


@pytest.mark.slow
def test_resampling_goes_on_while_the_draws_differ(tmp_path: Path) -> None:
    server = Repeating(["<OUTPUT>a</OUTPUT>", "<OUTPUT>b</OUTPUT>", "<OUTPUT>a</OUTPUT>", GOOD])
    log = run(server, tmp_path, queries=1, conditions="free", max_resamples=10)
    response = log.samples[0].metadata["response"]
    assert server.calls == 4 and response["valid"] and response["resampling_stopped"] is None
