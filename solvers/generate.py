"""Solvers: render a condition's prompt, then generate under the scratchpad protocol.

Generation follows the two published protocols:

- ``one_shot`` (Sheshadri et al. 2025 / open-source-alignment-faking): one completion holds the scratchpad
  and the output.
- ``multi_turn`` (Greenblatt et al. 2024's minimal notebook): after a turn that closes a scratchpad block
  without giving an output, the user turn ``<NEXT/>`` asks the model to go on, for at most ``max_turns``
  turns.

An invalid response (no scratchpad where one is required, no output, a content-filter stop, a provider
reply without any choice) is sampled again, at most ``max_resamples`` times (the reference pipeline uses
10). The first attempt is the run's request unchanged; each re-sample draws anew: it carries its own
``seed`` (so Inspect's cache key, which includes the generate config, differs per attempt, and ``--cache``
cannot hand back the same invalid text) and, when the run samples at temperature 0, temperature
``RESAMPLE_TEMPERATURE`` (at temperature 0 most providers return the same text whatever the seed). What
the model sees is unchanged. Every attempt is recorded in ``response.attempt_log`` (seed, temperature,
invalid reason). If it stays invalid the sample is kept, marked invalid with the last reason, and graded
on what it said. Rates are therefore conditioned on the first valid response among the attempts (as in
the reference pipeline); ``valid`` and ``attempts`` say which samples needed more than one.

Reasoning a provider returns natively (extended thinking) counts as scratchpad;
``response.scratchpad_source`` says where it came from. A prefill is recorded apart
(``metadata["prefill_text"]``) and the parser keeps it out of ``response.own_scratchpad``, so the AF
grader can grade only what the model wrote.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from inspect_ai.util import warn_once
from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser, ContentReasoning, ModelOutput
from inspect_ai.model._generate_config import active_generate_config  # inspect-evals-lint: ignore[private_api_imports] -- the run's GenerateConfig (--batch) has no public accessor in 0.3.x
from inspect_ai.solver import Generate, Solver, TaskState, solver

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

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        recorded = state.metadata.get("recorded", {}).get("response")
        if replay and recorded is not None:
            return replay_recorded(state, str(recorded))
        prompt = list(state.messages)
        log: list[dict[str, Any]] = []
        for number in range(max_resamples + 1):
            state.messages = list(prompt)
            config = resample_config(number, state.epoch, max_resamples, temperature)
            state, parsed, turns = await attempt(state, generate, config)
            log.append({"seed": config.get("seed"), "temperature": config.get("temperature", temperature), "invalid_reason": parsed.invalid_reason})
            if parsed.valid:
                break
        record = parsed.to_dict()
        record.update(
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
