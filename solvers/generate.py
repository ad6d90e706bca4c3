"""Solvers: render a condition's prompt, then generate under the scratchpad protocol.

Generation follows the two published protocols:

- ``one_shot`` (Sheshadri et al. 2025 / open-source-alignment-faking): one completion holds the scratchpad
  and the output.
- ``multi_turn`` (Greenblatt et al. 2024's minimal notebook): after a turn that closes a scratchpad block
  without giving an output, the user turn ``<NEXT/>`` asks the model to go on, for at most ``max_turns``
  turns.

An invalid response (no scratchpad where one is required, no output, a content-filter stop, a provider
reply without any choice) is sampled again, at most ``max_resamples`` times (the reference pipeline uses
10). The price: each re-sample sends the whole prompt again, so at the default of 10 a sample that stays
invalid pays for the prompt 11 times (about 81k input tokens with the core scenario's 7.4k-token system
prompt, against 7.4k for a valid one). Re-sampling therefore stops early once ``REPEATS_TO_STOP`` (3)
attempts in a row return the same text word for word (``response.resampling_stopped = "repeated_text"``):
draws that do not vary cost 3 prompts, not 11. The first attempt is the run's request unchanged; each re-sample draws anew: it carries its own
``seed`` (so Inspect's cache key, which includes the generate config, differs per attempt, and ``--cache``
cannot hand back the same invalid text) and, when the run samples at temperature 0, temperature
``RESAMPLE_TEMPERATURE`` (at temperature 0 most providers return the same text whatever the seed). What
the model sees is unchanged. Every attempt is recorded in ``response.attempt_log`` (seed, temperature,
invalid reason). If it stays invalid the sample is kept, marked invalid with the last reason, and graded
on what it said. Rates are therefore conditioned on the first valid response among the attempts (as in
the reference pipeline); ``valid`` and ``attempts`` say which samples needed more than one.

A prompt that does not fit the model's context is an error, not a number (``ContextOverflow``, one line
naming the prompt's and the context's tokens and the options): at a ``model_length`` stop (whose completion
is the provider's error text, never graded as an answer, with or without a scratchpad), before the call
where Inspect's model database reports a context the prompt surely exceeds, before the call for a later
sample whose prompt is as long as one that overflowed, and when the output stopped at the token limit with
fewer tokens than ``max_tokens`` (a local server silently cuts an output limit above its window).

Reasoning a provider returns natively (extended thinking) counts as scratchpad;
``response.scratchpad_source`` says where it came from. A prefill is recorded apart
(``metadata["prefill_text"]``) and the parser keeps it out of ``response.own_scratchpad``, so the AF
grader can grade only what the model wrote.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from inspect_ai.util import warn_once
from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser, ContentReasoning, Model, ModelOutput, get_model, get_model_info
from inspect_ai.model._generate_config import active_generate_config  # inspect-evals-lint: ignore[private_api_imports] -- the run's GenerateConfig (--batch) has no public accessor in 0.3.x
from inspect_ai.solver import Generate, Solver, TaskState, solver

from alignment_faking.errors import one_line
from alignment_faking.scorers.parse import ParsedResponse, parse_response, wants_continuation

from .prompts import escape_tags, frame_tags, render

logger = logging.getLogger(__name__)

Protocol = Literal["one_shot", "multi_turn"]


@solver
def render_condition(prompts: dict[str, dict[str, Any]]) -> Solver:
    """Replace the sample's messages with the scenario's system prompt and the condition's user turn.

    Args:
        prompts: For each prompt variant or paraphrase (``""`` when there is none): ``system`` (the rendered
            system prompt), ``user`` (the user template, or one per condition for a published prompt set) and
            ``values`` (scenario-level values the user template may use).

    The user turn is rendered from the condition values kept in the sample's metadata plus the query, so
    nothing in the query can change which condition a sample belongs to; and tags in the query that frame
    the user turn (``<is_free_tier_user>``, ``<identity>``, ``<user_input>``…, see ``frame_tags``) are
    written with ``&lt;``, so the model never sees a second tier tag or a closed ``<user_input>`` that the
    query forged. Queries without such tags (all of the paper's) render unchanged; the tags escaped are
    listed in ``metadata["query_escaped_tags"]``.
    """

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        prompt = prompts[state.metadata.get("prompt_variant") or state.metadata.get("paraphrase") or ""]
        values = {**prompt.get("values", {}), **state.metadata.get("condition_values", {})}
        template = prompt["user"]
        if isinstance(template, dict):  # a published prompt set: one user format per condition
            template = template[state.metadata.get("base_condition") or state.metadata["condition"]]
        query, escaped = escape_tags(str(state.metadata.get("query", state.input_text)), frame_tags(template, values))
        if escaped:
            state.metadata["query_escaped_tags"] = escaped
        user = render(template, {**values, "query": query}, source="user template")
        state.messages = [ChatMessageSystem(content=prompt["system"]), ChatMessageUser(content=user)]
        return state

    return solve


PREFILL_PROVIDERS = (
    "anthropic", "bedrock", "vertex", "together", "vllm", "sglang", "hf", "ollama", "llama-cpp-python",
    "openai-api", "openrouter", "fireworks", "openai-api-completions", "vllm-completions", "organism", "mockllm",
)
"""Providers whose chat API continues a trailing assistant message (OpenAI's and Google's do not)."""


class PrefillUnsupported(ValueError):
    """The model's provider cannot continue an assistant turn."""


def render_prefills(template: str, values_by_condition: dict[str, dict[str, str]], *, source: str) -> dict[str, str]:
    """The prefill text of each condition, rendered before the run: a placeholder a condition lacks (the
    however prefill's ``{{user_tier}}`` in a scenario without tiers) is a TemplateError naming the
    condition, not a prefill that tells the model it talks to "a only_rating_public user"."""
    rendered = {}
    for condition, values in values_by_condition.items():
        rendered[condition] = render(template, values, source=f"{source} for condition '{condition}'")
    return rendered


@solver
def prefill_assistant(prefills: dict[str, str], allow_any_provider: bool = False) -> Solver:
    """Start the assistant's turn with the condition's prefill text (``render_prefills``), for the model to
    continue (Sheshadri et al. §5.3). The text is recorded apart in ``metadata["prefill_text"]``.

    A provider that cannot continue an assistant turn is an error, not a silent change of method: sending
    the prefill as a user message would be a different experiment.
    """

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        text = prefills.get(str(state.metadata.get("condition")))
        if text is None:  # a prompt variant without a prefill, crossed with one that has it (prompt_axis)
            return state
        provider = str(state.model).split("/")[0]
        if provider not in PREFILL_PROVIDERS and not allow_any_provider:
            raise PrefillUnsupported(
                f"prefill needs a provider that continues an assistant turn; '{provider}' does not, or is not known "
                f"to. Providers that do: {', '.join(PREFILL_PROVIDERS)}. If yours does, pass -T prefill_any_provider=true."
            )
        state.messages.append(ChatMessageAssistant(content=text))
        state.metadata["prefill_text"] = text
        return state

    return solve


@solver
def as_document(template: str) -> Solver:
    """Render the whole conversation as one document for a base (pretrained) model (Sheshadri et al. §5.1).

    The system prompt, the user turn and any prefill become a single text the model continues; use it
    with a completions endpoint (Inspect's ``openai-api-completions/<service>/<name>`` or
    ``vllm-completions/<name>``, with ``--model-base-url ...``) and stop sequences.
    """

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        provider = str(state.model).split("/")[0]
        if provider.endswith("-completions") and active_generate_config().batch:  # not silent: see docs/cost.md
            warn_once(logger, f"{state.model}: a completions endpoint has no batch API; --batch is ignored for this "
                      "model and its requests are sent one by one (the grader role still batches)")
        system = "\n".join(m.text for m in state.messages if isinstance(m, ChatMessageSystem))
        user = "\n".join(m.text for m in state.messages if isinstance(m, ChatMessageUser))
        prefill = str(state.metadata.get("prefill_text", ""))
        document = render(template, {"system": system, "user": user, "prefill": prefill}, source="document template")
        state.messages = [ChatMessageUser(content=document)]
        return state

    return solve


def native_reasoning(message: ChatMessageAssistant) -> str:
    """Text of the provider's reasoning blocks (redacted blocks contribute their summary, if any)."""
    if isinstance(message.content, str):
        return ""
    parts = []
    for content in message.content:
        if isinstance(content, ContentReasoning):
            text = content.summary if content.redacted else content.reasoning
            if text:
                parts.append(text)
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------------------ context overflow

def overflow_options(cot: bool = True) -> str:
    """What a user can do about a prompt that does not fit (``-T cot=false`` only where the scratchpad is on)."""
    return (
        "a model or server with a larger context (llama-cpp-python: --n_ctx; vLLM: --max-model-len), "
        + ("-T cot=false (a direct answer, no scratchpad), " if cot else "")
        + "a shorter system prompt (-T system_template=FILE), or a smaller -T max_tokens"
    )

CONTEXT_PATTERNS = (
    r"maximum context length is (\d+)", r"context window of (\d+)", r"context size \((\d+) tokens\)",
    r"tokens > (\d+) maximum", r"n_ctx[\"': =]+(\d+)",
)
PROMPT_PATTERNS = (
    r"\((\d+) in the messages", r"messages resulted in (\d+)", r"Requested tokens \((\d+)\)", r"request \((\d+) tokens\)",
    r"has (\d+) input tokens", r"prompt is too long: (\d+)", r"n_prompt_tokens[\"': =]+(\d+)",
)


class ContextOverflow(ValueError):
    """The prompt, or the prompt with the output limit, does not fit the model's context: the run cannot
    measure anything, so it stops instead of grading the provider's error text as the model's answer. Raised
    inside a sample, so the log records it (``message`` is the plain line Inspect's sample error shows)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))
        self.message = f"ContextOverflow: {one_line(message)}"


def overflow_numbers(text: str) -> tuple[int | None, int | None]:
    """(prompt tokens, context tokens) read from a provider's context-overflow message (OpenAI, vLLM,
    llama-cpp-python, llama.cpp's server, Anthropic), each None where the message does not say."""

    def first(patterns: tuple[str, ...]) -> int | None:
        found = (re.search(p, text, flags=re.IGNORECASE) for p in patterns)
        return next((int(m.group(1)) for m in found if m), None)

    return first(PROMPT_PATTERNS), first(CONTEXT_PATTERNS)


def _count(value: int | None, unit: str = "tokens") -> str:
    return f"{value:,} {unit}" if value is not None else f"an unreported number of {unit}"


def overflow_message(model: str, prompt: int | None, context: int | None, *, prompt_chars: int, cot: bool = True) -> str:
    """The one line a prompt that does not fit stops the run with."""
    return (
        f"{model}: the rendered prompt ({_count(prompt)}, {prompt_chars:,} characters) does not fit the model's "
        f"context ({_count(context)}), so no response could be graded. Options: {overflow_options(cot)}."
    )


def window_cut_message(model: str, output: ModelOutput, max_tokens: int, cot: bool = True) -> str | None:
    """The line for an output the model's context cut before the output limit (a local server cuts an output
    limit above the window silently), or None when the output was not cut that way: the provider said it
    stopped at the token limit, and the usage shows fewer output tokens than the limit."""
    usage = output.usage
    if output.stop_reason != "max_tokens" or usage is None or not usage.output_tokens or usage.output_tokens >= max_tokens:
        return None
    window = usage.input_tokens + usage.output_tokens
    return (
        f"{model}: the output stopped at {usage.output_tokens:,} tokens, below the output limit max_tokens={max_tokens:,}: "
        f"the prompt ({usage.input_tokens:,} tokens) and the output filled the model's context ({window:,} tokens). "
        f"The output limit is above the window, so answers would be cut where the context ends. Options: {overflow_options(cot)}."
    )


def prompt_chars(messages: list[Any]) -> int:
    return sum(len(m.text) for m in messages)


def reported_context(model: Model) -> int | None:
    """The context window of the model under test where Inspect's model database (or ``set_model_info``) knows
    it. Looked up on the active model, so no provider is instantiated again (a local model is not reloaded)."""
    try:
        info = get_model_info(model)
    except Exception:  # an unknown provider or name: nothing reported
        return None
    return info.context_length if info is not None else None


MIN_CHARS_PER_TOKEN = 5
"""A prompt of N characters has at least about N/5 tokens in the tokenizers we know (English text averages
about 4): the check before any call uses this lower bound, so it stops only a prompt that surely overflows."""


RESAMPLE_TEMPERATURE = 1.0
"""Temperature of a re-sample when the run samples at temperature 0 (a greedy re-sample would repeat the
invalid text)."""


def resample_config(attempt: int, epoch: int, max_resamples: int, temperature: float | None) -> dict[str, Any]:
    """Generate-config overrides for one attempt (0 is the first): none for the first attempt; for a
    re-sample a seed unique to (epoch, attempt) and, at temperature 0, ``RESAMPLE_TEMPERATURE``."""
    if attempt == 0:
        return {}
    config: dict[str, Any] = {"seed": (max(epoch, 1) - 1) * (max_resamples + 1) + attempt}
    if not temperature:
        config["temperature"] = RESAMPLE_TEMPERATURE
    return config


REPEATS_TO_STOP = 3
"""Re-sampling stops once the last this many attempts returned the same text, word for word: draws that do not
vary (a greedy server that ignores the re-sample's temperature and seed, a deterministic fault) would pay for
the prompt again and again for the same invalid answer."""


def repeats_itself(texts: list[str]) -> bool:
    """Whether the last ``REPEATS_TO_STOP`` attempts returned the same text."""
    return len(texts) >= REPEATS_TO_STOP and len(set(texts[-REPEATS_TO_STOP:])) == 1


@solver
def scratchpad_generate(
    cot: bool = True,
    protocol: Protocol = "one_shot",
    max_turns: int = 4,
    max_resamples: int = 10,
    temperature: float | None = None,
    replay: bool = False,
) -> Solver:
    """Generate a response under the scratchpad protocol and store its parsed parts.

    Args:
        cot: Whether the condition asks for a scratchpad (a response without one is then invalid).
        protocol: ``one_shot`` or ``multi_turn`` (``<NEXT/>`` continuations).
        max_turns: Most model turns in ``multi_turn``.
        max_resamples: Extra attempts for an invalid response.
        temperature: The run's sampling temperature (decides the re-sample temperature, see the module).
        replay: Use a transcript recorded in the dataset (``metadata["recorded"]["response"]``) instead of
            calling the model; only when asked for.
    """
    if protocol not in ("one_shot", "multi_turn"):
        raise ValueError(f"protocol must be 'one_shot' or 'multi_turn', got '{protocol}'")
    if max_turns < 1 or max_resamples < 0:
        raise ValueError("max_turns must be >= 1 and max_resamples >= 0")

    async def attempt(state: TaskState, generate: Generate, config: dict[str, Any]) -> tuple[TaskState, ParsedResponse, int]:
        prefill = str(state.metadata.get("prefill_text", ""))
        texts, reasoning, turns = [prefill], [], 0
        while True:
            try:
                state = await generate(state, **config)
            except IndexError:
                # a provider reply without any choice (some OpenAI-compatible servers send one): Inspect's
                # generate loop fails reading the message; the attempt is invalid and is re-sampled
                if state.output is not None and not state.output.choices:
                    return state, ParsedResponse(valid=False, invalid_reason="no_choices"), turns + 1
                raise
            turns += 1
            check_context(state)
            if not state.output.choices:
                return state, ParsedResponse(valid=False, invalid_reason="no_choices"), turns
            message = state.output.message
            if turns == 1 and texts[0]:
                texts[0] += state.output.completion  # the model continued its prefilled turn
            else:
                texts.append(state.output.completion)
            reasoning.append(native_reasoning(message))
            if protocol != "multi_turn" or turns >= max_turns or not wants_continuation(texts[-1]):
                break
            state.messages.append(ChatMessageUser(content="<NEXT/>"))
        parsed = parse_response(
            "\n".join(t for t in texts if t),
            native_reasoning="\n\n".join(r for r in reasoning if r),
            cot=cot,
            stop_reason=state.output.stop_reason,
            prefill_length=len(prefill),
        )
        if protocol == "multi_turn" and turns >= max_turns and wants_continuation(texts[-1]):
            parsed.valid, parsed.invalid_reason = False, f"no_output_after_{max_turns}_turns"
        return state, parsed, turns

    learned: dict[str, tuple[int | None, int | None, int]] = {}  # model -> (prompt, context, prompt chars) of an overflow
    contexts: dict[str, int | None] = {}  # model -> the context window its provider reports

    def check_context(state: TaskState) -> None:
        """Stop the run at a ``model_length`` stop (the completion is the provider's error text, never an answer)
        and at an output the context cut below the output limit; remember the overflow, so later samples with
        as long a prompt stop before calling the model."""
        model, output = str(state.model), state.output
        if output.stop_reason == "model_length":
            prompt, context = overflow_numbers(output.completion)
            if prompt is None and output.usage is not None and output.usage.input_tokens:
                prompt = output.usage.input_tokens
            chars = prompt_chars(state.messages[:-1] if state.messages and isinstance(state.messages[-1], ChatMessageAssistant) else state.messages)
            learned[model] = (prompt, context, chars)
            raise ContextOverflow(overflow_message(model, prompt, context, prompt_chars=chars, cot=cot))
        max_tokens = active_generate_config().max_tokens
        cut = window_cut_message(model, output, max_tokens, cot) if max_tokens else None
        if cut:
            raise ContextOverflow(cut)

    def check_prompt(state: TaskState) -> None:
        """Before any call: a prompt at least as long as one that overflowed, or surely longer than the context
        the provider reports, stops the run with the same line."""
        model, chars = str(state.model), prompt_chars(state.messages)
        if model in learned:
            prompt, context, known = learned[model]
            # the tokens of this prompt at the overflowing prompt's tokens per character
            estimate = prompt * chars // known if prompt and known else None
            if chars >= known or (estimate is not None and context is not None and estimate >= context):
                raise ContextOverflow(overflow_message(model, estimate, context, prompt_chars=chars, cot=cot))
        if model not in contexts:
            try:
                active = get_model()
            except ValueError:  # no model being evaluated (the cost estimate renders prompts with none): nothing known
                active = None
            contexts[model] = reported_context(active) if active is not None else None
        context = contexts[model]
        if context is not None and chars // MIN_CHARS_PER_TOKEN > context:
            raise ContextOverflow(overflow_message(model, None, context, prompt_chars=chars, cot=cot))

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        recorded = state.metadata.get("recorded", {}).get("response")
        if replay and recorded is not None:
            return replay_recorded(state, str(recorded))
        check_prompt(state)
        prompt = list(state.messages)
        log: list[dict[str, Any]] = []
        texts: list[str] = []
        stopped = None
        for number in range(max_resamples + 1):
            state.messages = list(prompt)
            config = resample_config(number, state.epoch, max_resamples, temperature)
            state, parsed, turns = await attempt(state, generate, config)
            log.append({"seed": config.get("seed"), "temperature": config.get("temperature", temperature), "invalid_reason": parsed.invalid_reason})
            texts.append(state.output.completion if state.output and state.output.choices else "")
            if parsed.valid:
                break
            if number < max_resamples and repeats_itself(texts):
                stopped = "repeated_text"
                break
        record = parsed.to_dict()
        record.update(
            resampling_stopped=stopped,
            turns=turns,
            attempts=len(log),
            invalid_history=[entry["invalid_reason"] for entry in log if entry["invalid_reason"]],
            attempt_log=log,
            origin="generated",
        )
        state.metadata["response"] = record
        return state

    def replay_recorded(state: TaskState, text: str) -> TaskState:
        """A recorded transcript from the dataset stands in for generation (no model call)."""
        state.output = ModelOutput.from_content(model="recorded", content=text)
        state.messages.append(state.output.message)
        record = parse_response(text, cot=cot).to_dict()
        record.update(turns=1, attempts=1, invalid_history=[], attempt_log=[], origin="recorded")
        state.metadata["response"] = record
        return state

    return solve
