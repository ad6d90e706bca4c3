"""Inspect model provider for the offline organism: ``--model organism/<persona>``.

Besides each persona's settings (``-M <setting>=<value>``), every persona takes ``-M fail=<share>``: that share
of its requests fail (a fixed draw per prompt), as requests a provider rejects outright, so that a test can
make samples fail. Every organism name is registered with Inspect's model database (no price: it costs
nothing), so that Inspect takes prices for it: ``--model-cost-config organism/costs.yaml`` prices it at
made-up rates and lets ``--cost-limit`` be tried offline (docs/cost.md).
"""

from __future__ import annotations

from typing import Any

from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelInfo,
    ModelUsage,
    modelapi,
    set_model_info,
)
from inspect_ai.tool import ToolCall, ToolChoice, ToolInfo

from . import settings_personas

from .behaviour import approx_tokens as _tokens
from .behaviour import PERSONAS as PERSONA_BEHAVIOURS
from .behaviour import organism_reply, persona_settings, uniform
from .realistic import PERSONAS as REALISTIC
from .realistic import realistic_reply, settings_of


def draw_of(config: GenerateConfig) -> str:
    """What makes a repeated request for the same prompt a new draw: the sample's epoch (after the first) and a
    seed in the request (e.g. one per re-sampling attempt). The epoch comes from Inspect's active sample (the
    provider sees only messages; ``sample_active`` is Inspect-internal, acceptable in this test double, and
    outside a sample the draw is the first epoch's)."""
    from inspect_ai.log._samples import sample_active  # inspect-evals-lint: ignore[private_api_imports] -- the provider sees only messages; the sample's epoch has no public accessor in 0.3.x (test double only)

    active = sample_active()
    epoch = int(getattr(active, "epoch", 1) or 1) if active is not None else 1
    parts = ([f"epoch{epoch}"] if epoch > 1 else []) + ([f"seed{config.seed}"] if config.seed is not None else [])
    return ",".join(parts)


class InjectedFailure(RuntimeError):
    """A request the organism fails on purpose (``-M fail=<share>``): no provider layer retries it, so the
    sample fails as it would on a request a real provider rejects outright."""


def fail_share(model_args: dict[str, Any]) -> float:
    """The share of requests to fail (``-M fail=<share>``, default 0), taken out of ``model_args``."""
    value = model_args.pop("fail", 0)
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = -1.0
    if not 0 <= share <= 1:
        raise ValueError(f"organism setting fail must be a share of requests between 0 and 1, got {value!r}")
    return share


def fails(share: float, persona: str, prompt: str) -> bool:
    """Whether the request for ``prompt`` fails: a fixed draw per persona and prompt, so a failed sample fails
    again when it is re-run (``inspect eval-retry``)."""
    return share > 0 and uniform(persona, "fail", prompt) < share


class OrganismAPI(ModelAPI):
    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        self.persona = model_name
        self.fail = fail_share(model_args)
        if model_name in settings_personas.PERSONAS:  # the tool-selection and value-conflict personas
            self.settings = settings_personas.persona_settings(model_name, model_args)
        elif model_name in REALISTIC:  # organism/realistic.py: personas that behave as real models do
            self.settings = settings_of(model_name, model_args)
        else:
            self.settings = persona_settings(model_name, model_args)

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        system = "\n".join(m.text for m in input if isinstance(m, ChatMessageSystem))
        users = [m.text for m in input if isinstance(m, ChatMessageUser)]
        prompt = system + "".join(m.text for m in input if not isinstance(m, ChatMessageSystem))
        if fails(self.fail, self.persona, prompt):
            raise InjectedFailure(f"organism/{self.persona}: request failed on purpose (-M fail={self.fail:g})")
        prompt_tokens = _tokens(prompt)
        last = input[-1] if input else None
        tail = last.text if isinstance(last, ChatMessageAssistant) else None
        n, calls = config.num_choices or 1, []
        if self.persona in REALISTIC:
            text, stop_reason = realistic_reply(self.persona, self.settings, system, users, draw_of(config), config.max_tokens)
            texts = [text] * n
        else:
            newer = settings_personas.reply(self.persona, self.settings, system, users, tools, n, draw_of(config))
            texts, stop_reason, calls = newer or (*organism_reply(self.persona, self.settings, system, users, tail, n, draw_of(config)), [])
        tool_calls = [ToolCall(id=f"call_{i}", function=c["function"], arguments=c["arguments"]) for i, c in enumerate(calls)] or None
        choices = [
            ChatCompletionChoice(
                message=ChatMessageAssistant(content=text, tool_calls=tool_calls, model=f"organism/{self.persona}", source="generate"),
                stop_reason=stop_reason,  # type: ignore[arg-type]
            )
            for text in texts
        ]
        output_tokens = sum(_tokens(t) for t in texts)
        return ModelOutput(
            model=f"organism/{self.persona}",
            choices=choices,
            usage=ModelUsage(
                input_tokens=prompt_tokens, output_tokens=output_tokens, total_tokens=prompt_tokens + output_tokens
            ),
        )

    def max_connections(self) -> int:
        return 32


PERSONAS = (*PERSONA_BEHAVIOURS, *REALISTIC, *settings_personas.PERSONAS)


def register_names() -> None:
    """Make every ``organism/<persona>`` a model Inspect knows (its price is taken from a cost file)."""
    for persona in PERSONAS:
        set_model_info(f"organism/{persona}", ModelInfo(organization="alignment_faking", model=f"organism {persona}"))


@modelapi(name="organism")
def organism() -> type[ModelAPI]:
    return OrganismAPI


register_names()
