"""A model provider for base (pretrained) models behind an OpenAI-compatible completions endpoint.

``--model completions/<model name> --model-base-url http://host:8000/v1`` (vLLM, SGLang, Together and others
serve base models at ``/v1/completions``). The conversation must be a single user message holding the whole
document (the ``as_document`` solver makes it): it is sent as the raw prompt, with no chat template, and
the model's continuation comes back as the assistant's text. The key is read from ``COMPLETIONS_API_KEY``
(any placeholder works for a local server).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from inspect_ai._util.logger import warn_once
from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageUser,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

logger = logging.getLogger(__name__)


class DocumentError(ValueError):
    """The conversation is not a single document."""


class CompletionsAPI(ModelAPI):
    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, ["COMPLETIONS_API_KEY"], config)
        from openai import AsyncOpenAI

        url = base_url or model_args.pop("base_url", None) or os.environ.get("COMPLETIONS_BASE_URL")
        if not url:
            raise ValueError(
                "completions/<model> needs the endpoint: --model-base-url http://host:port/v1 or COMPLETIONS_BASE_URL"
            )
        self.client = AsyncOpenAI(
            base_url=url, api_key=api_key or os.environ.get("COMPLETIONS_API_KEY", "unused"), **model_args
        )

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        if len(input) != 1 or not isinstance(input[0], ChatMessageUser):
            raise DocumentError(
                "a completions model takes one document (a single user message); run the task with "
                "-T base_model=true so the conversation is rendered as a document"
            )
        if config.batch:  # not silent: --batch is for the providers with a batch API (see the README)
            warn_once(logger, f"completions/{self.model_name}: a completions endpoint has no batch API; --batch is ignored "
                      "for this model and its requests are sent one by one (the grader role still batches)")
        response = await self.client.completions.create(
            model=self.model_name,
            prompt=input[0].text,
            max_tokens=config.max_tokens or 4000,
            temperature=config.temperature if config.temperature is not None else 1.0,
            stop=config.stop_seqs or None,
            seed=config.seed,
        )
        choices = [
            ChatCompletionChoice(
                message=ChatMessageAssistant(content=choice.text, model=self.model_name, source="generate"),
                stop_reason="max_tokens" if choice.finish_reason == "length" else "stop",
            )
            for choice in response.choices
        ]
        usage = response.usage
        return ModelOutput(
            model=self.model_name,
            choices=choices,
            usage=ModelUsage(
                input_tokens=usage.prompt_tokens if usage else 0,
                output_tokens=usage.completion_tokens if usage else 0,
                total_tokens=usage.total_tokens if usage else 0,
            ),
        )


@modelapi(name="completions")
def completions() -> type[ModelAPI]:
    return CompletionsAPI
