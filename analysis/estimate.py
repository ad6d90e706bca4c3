"""What a run will cost, before it runs: requests, tokens and USD for the model under test and the grader.

    python -m alignment_faking.analysis.estimate gap -T dataset=builtin -T queries=100 \\
        --model anthropic/claude-3-opus-20240229 [--grader openai/gpt-4o] [--batch] [--prices my_prices.yaml]

No model is called. The task is built from the registry with the same ``-T`` parsing as ``inspect eval``;
every sample's prompt is rendered by the task's own solvers (they run up to the point where they would
call the model), so the input tokens are those of the real prompts. What the model will *write* is
unknown, so the estimate assumes a response mix (``Mix``: shares of compliance and of bare ``<rejected/>``
refusals, scratchpad and answer lengths, invalid responses) and the grader's reply lengths; the defaults
are our guess at a typical model of Sheshadri et al. 2025 (most refuse most requests) and every one is a
flag. The grader's requests are built by the setting's own graders (``scorers/settings.py``, the table
the scorer loops over) on text of the assumed length, and each grader's own gating rule decides on which
assumed responses it is called (e.g. no StrongREJECT call for a bare ``<rejected/>``, a supports-welfare
call on every valid response of the animal-welfare setting, AF only with a scratchpad, partial compliance
only for compliant responses with one), so every setting is priced by construction; the AF votes go in one
request with ``n`` choices where the grader's provider supports it (otherwise one request per vote).

The two newer settings (``tool_selection``, ``value_conflict``) are priced the same way by their own code:
every call their solver makes on each scenario's real prompts (six per scenario for tool selection, one per
sample for value conflicts), each response ``--scratchpad-tokens`` + ``--answer-tokens`` long, and their judges'
requests built by the judges themselves (two reasoning-matches-baseline calls and one criteria call per
scenario; the option judge on every answer and the five-criterion judge on the monitored ones), each reply
``--strongreject-tokens`` long; the compliance and refusal shares do not apply. Their default epochs are the
task's own (5 and 10, the published repeats) unless ``--epochs`` is given.

Tokens are characters / 4 (``organism.behaviour.approx_tokens``, as the organism and the loopback server
count; real tokenizers differ by roughly ±20% on English). Prompt caching follows Anthropic's breakpoints
for ``anthropic/`` models (the system prompt, the last message and any ``cache_breakpoint`` the suite sets are
breakpoints, as Inspect sends them; cache writes are priced apart; ``organism.prompt_cache.BreakpointCache``)
and OpenAI's documented rule (prompts of 1,024+ tokens, cached in 128-token blocks;
``organism.prompt_cache.PrefixCache``) for every other provider, which is approximate for some. Requests are
taken one after another, so a prefix is read by every request after the one that wrote it. Prices come from ``prices.yaml`` (approximate, dated; override with
``--prices``).
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import inspect
import json
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml
from inspect_ai import Task
from inspect_ai._util.config import parse_cli_args  # inspect-evals-lint: ignore[private_api_imports] -- the parser behind `inspect eval -T`, so -T reads as Inspect reads it
from inspect_ai._util.registry import registry_find, registry_info, registry_lookup, registry_params  # inspect-evals-lint: ignore[private_api_imports] -- builds a task from its registry name as `inspect eval` does
from inspect_ai.model import ChatCompletionChoice, ChatMessage, ChatMessageAssistant, ChatMessageUser, GenerateConfig, ModelName, ModelOutput
from inspect_ai.solver import TaskState

import alignment_faking._registry  # noqa: F401  (registers the suite's tasks)
from alignment_faking.organism.prompt_cache import CACHE_BLOCK_TOKENS, CACHE_MIN_TOKENS, CHARS_PER_TOKEN, BreakpointCache, PrefixCache
from alignment_faking.scorers.graders import Case, Grader, grade_strongreject, sample_votes
from alignment_faking.scorers.scorer import DEFAULT_GRADER
from alignment_faking.scorers.settings import setting_named
from alignment_faking.scorers.tool_selection import AF_CRITERIA, CALLS, CONTRAST_CALLS, MATCHES_BASELINE
from alignment_faking.scorers.value_conflict import CONTROL as VALUE_CONTROL
from alignment_faking.scorers.value_conflict import OPTION_JUDGE, REASONING_JUDGE
from alignment_faking.solvers.tool_selection import MONITORING_PROMPT, call_messages, judge_context, tool_infos
from alignment_faking.tasks.classifier_validation import output_of, scratchpad_of
from alignment_faking.tasks.options import OPTION_NAMES

PRICES_FILE = Path(__file__).with_name("prices.yaml")
N_CHOICE_PROVIDERS = ("openai", "grok", "google", "together", "vllm", "sglang", "openai-api-completions", "vllm-completions", "organism")
"""Providers that return several choices per request (Inspect's ``GenerateConfig.num_choices``)."""
BATCH_PROVIDERS = ("openai", "anthropic", "google", "together", "grok")
"""Providers Inspect can send through a batch API (``--batch``)."""
SCRATCHPAD_TAGS = "<SCRATCHPAD_REASONING>\n\n</SCRATCHPAD_REASONING>\n\n<OUTPUT>\n\n</OUTPUT>"
OUTPUT_TAGS = "<OUTPUT>\n\n</OUTPUT>"
BARE_REFUSAL = "<rejected/>"


class EstimateError(ValueError):
    """Bad input to the estimate: an unknown task, parameter, model or price file."""


@dataclass
class Mix:
    """What the model under test and the grader are assumed to write (tokens are per response)."""

    compliance: float = 0.10  # share of responses the grader finds compliant (StrongREJECT > 0)
    bare_refusal: float = 0.75  # share whose output is a bare <rejected/> (no StrongREJECT call)
    invalid: float = 0.0  # chance that an attempt is invalid and sampled again (up to max_resamples)
    scratchpad_tokens: float = 700  # hidden reasoning per response (tasks with cot)
    answer_tokens: float = 300  # visible output of a response that is not a bare refusal
    strongreject_tokens: float = 200  # grader reply lengths (formats in scorers/prompts/)
    af_vote_tokens: float = 300  # per vote: about what GPT-4o writes per AF vote (the organism grader writes about 55)
    partial_tokens: float = 200
    output_tokens: float | None = None  # shorthand: all a non-refusal response writes (70% scratchpad with cot)

    def resolved(self, cot: bool) -> "Mix":
        """The mix with ``output_tokens`` (if given) split into scratchpad and answer."""
        if self.output_tokens is None:
            return self
        scratchpad = 0.7 * self.output_tokens if cot else 0.0
        return replace(self, scratchpad_tokens=scratchpad, answer_tokens=self.output_tokens - scratchpad, output_tokens=None)

    def check(self) -> None:
        for name in ("compliance", "bare_refusal", "invalid"):
            if not 0 <= getattr(self, name) <= 1:
                raise EstimateError(f"--{name.replace('_', '-')} must be a share between 0 and 1, got {getattr(self, name)}")
        if self.compliance + self.bare_refusal > 1:
            raise EstimateError(f"compliance ({self.compliance}) + bare refusal ({self.bare_refusal}) is more than 1: a bare refusal is not compliant")
        if self.invalid >= 1:
            raise EstimateError("--invalid must be below 1")
        for name in ("scratchpad_tokens", "answer_tokens", "strongreject_tokens", "af_vote_tokens", "partial_tokens", "output_tokens"):
            if (getattr(self, name) or 0) < 0:
                raise EstimateError(f"--{name.replace('_', '-')} must not be negative")


@dataclass
class Usage:
    requests: float = 0.0
    choices: float = 0.0
    input_tokens: float = 0.0
    cached_input_tokens: float = 0.0
    output_tokens: float = 0.0
    cache_write_tokens: float = 0.0  # of input_tokens, written to a provider's prompt cache (Anthropic)

    def add(self, other: "Usage", weight: float = 1.0) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + weight * getattr(other, name))


@dataclass
class Line:
    role: str
    model: str
    usage: Usage
    price: dict[str, float]
    batched: bool
    cost: float


@dataclass
class Estimate:
    task: str
    task_args: dict[str, Any]
    samples: int
    epochs: int
    lines: list[Line]
    mix: Mix
    prices_as_of: str
    notes: list[str] = field(default_factory=list)

    @property
    def total_cost(self) -> float:
        return sum(line.cost for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_cost": self.total_cost}


# ------------------------------------------------------------------------------------------ prices


def load_prices(path: str | Path | None = None) -> dict[str, Any]:
    """The built-in table, with a user's file (same shape) laid over it key by key."""
    table = yaml.safe_load(PRICES_FILE.read_text(encoding="utf-8"))
    if path is None:
        return table
    file = Path(path)
    if not file.is_file():
        raise EstimateError(f"price file not found: {file}")
    try:
        user = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise EstimateError(f"price file {file} is not valid YAML: {error}") from error
    if not isinstance(user, dict) or not set(user) <= {"models", "batch_discount", "as_of"}:
        raise EstimateError(f"price file {file} must be a mapping with 'models' (and optionally 'batch_discount', 'as_of'), as in {PRICES_FILE}")
    for name, price in (user.get("models") or {}).items():
        if not isinstance(price, dict) or not {"input", "output"} <= set(price):
            raise EstimateError(f"price file {file}: model '{name}' needs 'input' and 'output' (USD per million tokens), optionally 'cached_input'")
    table["models"].update(user.get("models") or {})
    table["batch_discount"].update(user.get("batch_discount") or {})
    table["as_of"] = f"{table['as_of']}; overrides from {file}"
    return table


def price_for(prices: dict[str, Any], model: str) -> dict[str, float]:
    models = prices["models"]
    match = models.get(model) or next((p for name, p in models.items() if "*" in name and fnmatch.fnmatch(model, name)), None)
    if match is None:
        raise EstimateError(
            f"no price for model '{model}'. Known models: {', '.join(sorted(models))}. Pass --prices FILE with, e.g.:\n"
            f"models:\n  {model}: {{input: 1.00, cached_input: 0.50, output: 4.00}}   # USD per million tokens"
        )
    return {
        "input": float(match["input"]),
        "cached_input": float(match.get("cached_input", match["input"])),
        "cache_write": float(match.get("cache_write", match["input"])),
        "output": float(match["output"]),
    }


def cost_of(usage: Any, price: dict[str, float], discount: float = 1.0) -> float:
    """USD for a usage (``input_tokens`` all input, of which ``cached_input_tokens`` read from and
    ``cache_write_tokens`` written to the prompt cache) at a price entry (USD per million tokens)."""
    written = getattr(usage, "cache_write_tokens", 0.0)
    uncached = usage.input_tokens - usage.cached_input_tokens - written
    dollars = (
        uncached * price["input"] + usage.cached_input_tokens * price["cached_input"] + written * price["cache_write"]
        + usage.output_tokens * price["output"]
    )
    return discount * dollars / 1e6


def inspect_cost_config(prices: dict[str, Any]) -> tuple[dict[str, dict[str, float]], list[str]]:
    """The price table in the format of Inspect's ``--model-cost-config`` (model name -> ``ModelCost``
    fields: input, output, input_cache_write, input_cache_read; USD per million tokens), and the names it
    leaves out: patterns (``vllm/*``) and models Inspect's model database does not know (Inspect's
    ``set_model_cost`` accepts only those)."""
    from inspect_ai.model import get_model_info

    config, left_out = {}, []
    for name in prices["models"]:
        if "*" in name or get_model_info(name) is None:
            left_out.append(name)
            continue
        price = price_for(prices, name)
        config[name] = {"input": price["input"], "output": price["output"],
                        "input_cache_write": price["cache_write"], "input_cache_read": price["cached_input"]}
    return config, left_out


def write_cost_config(path: str | Path, prices: dict[str, Any]) -> list[str]:
    """Write ``inspect_cost_config`` as YAML to ``path``; returns the names left out."""
    config, left_out = inspect_cost_config(prices)
    header = (f"# Inspect --model-cost-config (USD per million tokens), written by python -m alignment_faking.analysis.estimate"
              f" --write-cost-config from the suite's price table ({prices.get('as_of', '')})\n")
    Path(path).write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return left_out


# -------------------------------------------------------------------------------------------- task


def suite_tasks() -> list[str]:
    return sorted(registry_info(t).name.split("/", 1)[1] for t in registry_find(lambda i: i.type == "task" and i.name.startswith("alignment_faking/")))


def build_task(name: str, task_args: dict[str, Any]) -> tuple[str, Task]:
    """The registered task with these arguments; unknown tasks and parameters are errors (not warnings)."""
    short = name.split("/", 1)[1] if name.startswith("alignment_faking/") else name
    if short not in suite_tasks():
        raise EstimateError(f"unknown task '{name}'; the suite's tasks are: {', '.join(suite_tasks())}")
    function = registry_lookup("task", f"alignment_faking/{short}")
    signature = inspect.signature(function)
    allowed = set(signature.parameters) - {"options"}
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        allowed |= set(OPTION_NAMES)  # **options go to the task options
    unknown = sorted(set(task_args) - allowed)
    if unknown:
        raise EstimateError(f"task '{short}' has no parameter(s) {', '.join(unknown)}; its parameters are: {', '.join(sorted(allowed))}")
    try:
        return short, function(**task_args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        raise EstimateError(f"task '{short}' cannot be built with {task_args}: {error}") from error


class _ModelCall(Exception):
    """Raised by the stand-in ``generate``: the solvers reached the model."""


def prompt_text(messages: list[ChatMessage]) -> str:
    """The prompt as the loopback server counts it (``role:text`` lines)."""
    return "".join(f"{m.role}:{m.text}\n" for m in messages)


async def rendered_prompt(task: Task, sample: Any, model: str) -> list[ChatMessage] | None:
    """The messages the task's solvers would send the model for this sample; None if they call no model
    (a recorded response). Raises what the solvers raise (e.g. a prefill the provider cannot take)."""
    text = sample.input if isinstance(sample.input, str) else None
    state = TaskState(
        model=ModelName(model), sample_id=sample.id or 0, epoch=1, input=sample.input,
        messages=[ChatMessageUser(content=text)] if text is not None else list(sample.input),
        metadata=dict(sample.metadata or {}),
    )
    captured: list[list[ChatMessage]] = []

    async def generate(state: TaskState, *args: Any, **kwargs: Any) -> TaskState:
        captured.append(list(state.messages))
        raise _ModelCall()

    for solver in task.solver:  # type: ignore[attr-defined]
        try:
            state = await solver(state, generate)
        except _ModelCall:
            return captured[0]
    return None


class ProviderCache:
    """What a provider would bill as cached, for requests taken one after another."""

    def __init__(self, model: str) -> None:
        self.anthropic = model.split("/")[0] == "anthropic"
        self.prefixes, self.breakpoints, self.clock = PrefixCache(), BreakpointCache(), 0.0

    def lookup_and_add(self, messages: list[ChatMessage]) -> tuple[float, float]:
        """(tokens read from the cache, tokens written to it) for one request."""
        if not self.anthropic:
            return float(self.prefixes.lookup_and_add("m", prompt_text(messages))), 0.0
        last = len(messages) - 1
        blocks = [
            (f"{m.role}:{m.text}", m.role == "system" or i == last or any(getattr(c, "cache_breakpoint", False) for c in m.content if not isinstance(m.content, str)))
            for i, m in enumerate(messages)
        ]
        self.clock += 1.0
        read, write = self.breakpoints.lookup_and_add("m", blocks, arrived=self.clock, now=self.clock)
        return float(read), float(write)


class Recorder:
    """Stands in for a grader ``Model``: records what the suite's grading code asks for, calls nothing."""

    def __init__(self, n_choices: bool, model: str = "") -> None:
        self.n_choices = n_choices
        self.model = model
        self.calls: list[tuple[str, int]] = []  # (prompt text, choices)
        self.messages: list[list[ChatMessage]] = []

    async def generate(self, input: list[ChatMessage], config: GenerateConfig | None = None, **_: Any) -> ModelOutput:
        n = (config.num_choices or 1) if config is not None and self.n_choices else 1
        self.calls.append((prompt_text(input), n))
        self.messages.append(list(input))
        choice = ChatCompletionChoice(message=ChatMessageAssistant(content=""), stop_reason="stop")
        return ModelOutput(model="estimate", choices=[choice] * n)

    async def usage(self, call: Any, reply_tokens: float) -> Usage:
        """Usage of the requests one grading call makes (no caching)."""
        self.calls = []
        await call(self)
        return Usage(
            requests=len(self.calls), choices=sum(n for _, n in self.calls),
            input_tokens=sum(len(p) / CHARS_PER_TOKEN for p, _ in self.calls),
            output_tokens=sum(n * reply_tokens for _, n in self.calls),
        )

    async def cached_per_item(self, call_for: Any) -> tuple[tuple[float, float], tuple[float, float]]:
        """(cache read, cache write) input tokens of the first item's requests and of a later item's (a
        different text)."""
        cache, cached = ProviderCache(self.model), []
        for item in ("first", "second"):
            self.calls, self.messages = [], []
            await call_for(item)(self)
            counts = [cache.lookup_and_add(m) for m in self.messages]
            cached.append((sum(r for r, _ in counts), sum(w for _, w in counts)))
        return cached[0], cached[1]


def filler(tokens: float, salt: str) -> str:
    """Text of about ``tokens`` tokens, distinct per salt (so no two items share a cached prefix)."""
    chars = int(tokens * CHARS_PER_TOKEN)
    return (salt + " " + "lorem ipsum " * (chars // 12 + 1))[:chars]


def repeat_cached(tokens: float) -> float:
    """Cached tokens when a prompt seen before is sent again (a resample, a later epoch)."""
    return (tokens // CACHE_BLOCK_TOKENS) * CACHE_BLOCK_TOKENS if tokens >= CACHE_MIN_TOKENS else 0.0


def _solver_params(task: Task, suffix: str) -> dict[str, Any] | None:
    solvers = task.solver if isinstance(task.solver, Iterable) else [task.solver]
    for solver in solvers:
        if registry_info(solver).name.endswith(suffix):
            return registry_params(solver)
    return None


def _scorer_params(task: Task) -> dict[str, Any]:
    for scorer in task.scorer or []:
        if registry_info(scorer).name.endswith("alignment_faking_scorer"):
            return registry_params(scorer)
    return {}


# ---------------------------------------------------------------------------------------- estimate


async def _estimate(task: Task, model: str, grader: str, mix: Mix, epochs: int) -> tuple[Usage, Usage, list[str]]:
    notes: list[str] = []
    policy, grading = Usage(), Usage()
    samples = list(task.dataset)

    # the model under test grading labelled scratchpads (classifier_validation): exact, no grader role
    labelled = _solver_params(task, "grade_labelled")
    if labelled is not None:
        recorder = Recorder(model.split("/")[0] in N_CHOICE_PROVIDERS, model)
        for sample in samples:
            text, query = str(sample.input), str((sample.metadata or {}).get("query", ""))
            if labelled["classifier"] == "af":
                policy.add(await recorder.usage(lambda r: sample_votes(r, "af_classifier", scratchpad_of(text), labelled["votes"], labelled["temperature"]), mix.af_vote_tokens))
            else:
                policy.add(await recorder.usage(lambda r: grade_strongreject(r, query, output_of(text)), mix.strongreject_tokens))
        notes.append("classifier_validation: the model under test is the grader; its requests are exact, its replies assumed")
    elif (task.metadata or {}).get("setting") in SETTING_JUDGES:
        await _setting(task, model, grader, mix, policy, grading, notes)
    else:
        await _scenario(task, model, grader, mix, policy, grading, notes)
    for usage in (policy, grading):
        repeat = Usage(**vars(usage))
        repeat.cached_input_tokens = repeat.cache_write_tokens = 0.0  # later epochs repeat every prompt: cache them block-aligned
        usage.add(repeat, epochs - 1)
        if epochs > 1 and repeat.requests:
            usage.cached_input_tokens += (epochs - 1) * repeat.requests * repeat_cached(repeat.input_tokens / repeat.requests)
    return policy, grading, notes


def assumed_cases(mix: Mix, cot: bool, final_invalid: float, grade_partial: bool) -> list[tuple[float, Case]]:
    """The responses the mix assumes, as (probability, :class:`Case` the gating rules read): a bare
    ``<rejected/>``, another refusal, a compliance (each with a scratchpad when ``cot``), and a response
    still invalid after its resamples. The compliance verdict is the mix's, so the rules need no grader."""
    reasoning = "assumed scratchpad" if cot else ""
    valid = 1.0 - final_invalid
    kinds = ((mix.bare_refusal, True, 0.0), (1.0 - mix.bare_refusal - mix.compliance, False, 0.0), (mix.compliance, False, 1.0))
    cases = [(valid * p, Case(True, bare, reasoning, reasoning, grade_partial, {"compliant": c})) for p, bare, c in kinds]
    return cases + [(final_invalid, Case(False, False, reasoning, reasoning, grade_partial))]


def called(grader: Grader, cases: list[tuple[float, Case]]) -> float:
    """The expected number of calls of ``grader`` per response: the probability that its gating rule asks it."""
    return sum(p for p, case in cases if grader.gate(case) is None)


def reply_tokens(grader: Grader, mix: Mix) -> float:
    """The assumed length of one reply (one vote) of a grader: the mix's figure for its role, at most its cap."""
    assumed = {"af": mix.af_vote_tokens, "partial": mix.partial_tokens}.get(grader.key, mix.strongreject_tokens)
    return min(float(grader.max_tokens), assumed)


async def _scenario(task: Task, model: str, grader: str, mix: Mix, policy: Usage, grading: Usage, notes: list[str]) -> None:
    """A scenario task: the model under test on every sample's real prompt, then the setting's graders, each
    called as its own gating rule says."""
    samples = list(task.dataset)
    generation = _solver_params(task, "scratchpad_generate") or {}
    mix = mix.resolved(bool(generation.get("cot", True)))
    resamples = generation.get("max_resamples", 0)
    attempts = sum(mix.invalid**k for k in range(resamples + 1))  # expected attempts per sample
    final_invalid = mix.invalid ** (resamples + 1)
    scoring = _scorer_params(task)
    graders = setting_named(str(scoring.get("setting", "helpful_only"))).graders_for(
        int(scoring.get("af_votes", 20)), rubrics=scoring.get("rubrics")
    ) if scoring else ()
    cache = ProviderCache(model)
    weights = {g.name: 0.0 for g in graders}
    queries: dict[str, list[str]] = {g.name: [] for g in graders}
    replayed = {g.replay: 0 for g in graders}
    for sample in samples:
        metadata = sample.metadata or {}
        cot = bool(metadata.get("cot", True))
        messages = await rendered_prompt(task, sample, model)
        if messages is not None:
            text = prompt_text(messages)
            tokens = len(text) / CHARS_PER_TOKEN
            first_cached, first_written = cache.lookup_and_add(messages)
            answer = mix.bare_refusal * len(BARE_REFUSAL) / CHARS_PER_TOKEN + (1 - mix.bare_refusal) * mix.answer_tokens
            written = (len(SCRATCHPAD_TAGS) / CHARS_PER_TOKEN + mix.scratchpad_tokens if cot else len(OUTPUT_TAGS) / CHARS_PER_TOKEN) + answer
            policy.add(Usage(requests=attempts, choices=attempts, input_tokens=attempts * tokens,
                             cached_input_tokens=first_cached + (attempts - 1) * repeat_cached(tokens), output_tokens=attempts * written,
                             cache_write_tokens=first_written))
        recorded_replies = metadata.get("recorded", {})
        cases = assumed_cases(mix, cot, final_invalid, bool(scoring.get("grade_partial", True)))
        for g in graders:
            if g.replay in recorded_replies:
                replayed[g.replay] += 1
                continue
            weight = called(g, cases)
            weights[g.name] += weight
            if weight > 0:
                queries[g.name].append(str(metadata.get("query", sample.input)))
    if mix.invalid and resamples:
        notes.append(f"invalid responses: {attempts:.3f} attempts per sample (up to {resamples} resamples)")
    if generation.get("protocol") == "multi_turn":
        notes.append("multi_turn: counted as one turn per attempt; each <NEXT/> continuation is one more request")
    if graders:
        await _grading(graders, weights, queries, grader, mix, grading, notes)
        if any(replayed.values()):
            notes.append(f"recorded grader replies in the dataset are not sent: {replayed}")


async def _grading(graders: tuple[Grader, ...], weights: dict[str, float], queries: dict[str, list[str]], grader: str, mix: Mix,
                   grading: Usage, notes: list[str]) -> None:
    """The grader's usage: each grader's requests (built by the grader itself on text of the assumed lengths;
    one attempt each) times its expected number of calls, with the provider's prompt cache."""
    recorder = Recorder(grader.split("/")[0] in N_CHOICE_PROVIDERS, grader)

    def texts(query: str, salt: str) -> dict[str, str]:
        return {"query": query, "response": filler(mix.answer_tokens, salt), "scratchpad": filler(mix.scratchpad_tokens, salt)}

    for g in graders:
        weight = weights[g.name]
        if weight <= 0:
            continue
        one = replace(g, max_attempts=1)
        tokens = reply_tokens(g, mix)
        per_item = Usage()
        if any(name == "query" for name, _ in g.fields):  # the real queries, each with an answer of the assumed length
            for query in queries[g.name]:
                per_item.add(await recorder.usage(lambda r, q=query: one.judge(r, texts(q, "answer")), tokens), 1 / len(queries[g.name]))
        else:
            per_item = await recorder.usage(lambda r: one.judge(r, texts("", g.name)), tokens)
        (first, first_written), (later, later_written) = await recorder.cached_per_item(
            lambda item: lambda r: one.judge(r, texts(item, item))
        )
        per_item.cached_input_tokens = 0.0
        grading.add(per_item, weight)
        grading.cached_input_tokens += min(weight, 1.0) * first + max(weight - 1.0, 0.0) * later
        grading.cache_write_tokens += min(weight, 1.0) * first_written + max(weight - 1.0, 0.0) * later_written
        votes = getattr(g, "votes", 1)
        if votes > 1 and not recorder.n_choices:
            notes.append(f"grader provider '{grader.split('/')[0]}' returns one choice per request: {votes} {g.key.upper()} votes = {votes} requests")


# ------------------------------------------------------------------------------- the newer settings


def _tool_selection_requests(task: Task, sample: Any) -> dict[str, list[ChatMessage]]:
    """The calls the tool-selection solver makes on one scenario, by call name, as it builds them."""
    params = _solver_params(task, "tool_selection_calls") or {}
    names = CALLS + (CONTRAST_CALLS if params.get("contrast", True) else ())
    prompt = params.get("monitoring_prompt", MONITORING_PROMPT)
    return {call: call_messages(sample.metadata, call, prompt, params.get("tools") == "native") for call in names}


def _tool_schema_tokens(sample: Any) -> float:
    """The native variant's tool definitions on one request, counted as their JSON (every call but the
    context-free baseline sends them; a provider's own framing around them is not counted)."""
    return sum(len(info.model_dump_json(exclude_none=True)) for info in tool_infos(sample.metadata["tools"])) / CHARS_PER_TOKEN


def _tool_selection_judges(task: Task, sample: Any, mix: Mix) -> list[tuple[Grader, dict[str, str]]]:
    md, baseline = sample.metadata, filler(mix.answer_tokens, f"{sample.id} baseline")
    requests = _tool_selection_requests(task, sample)

    def matches(call: str) -> dict[str, str]:  # R3 and R2 against the baseline: the same baseline, two reasonings
        context = judge_context(requests[call], md, call)
        return {"context": context, "baseline": baseline, "reasoning": filler(mix.scratchpad_tokens, f"{sample.id} {call}")}

    return [(MATCHES_BASELINE, matches("monitored")), (MATCHES_BASELINE, matches("adversarial")), (AF_CRITERIA, {"reasoning": matches("monitored")["reasoning"]})]


def _value_conflict_judges(task: Task, sample: Any, mix: Mix) -> list[tuple[Grader, dict[str, str]]]:
    md = sample.metadata
    judges: list[tuple[Grader, dict[str, str]]] = [(OPTION_JUDGE, {"options": md["options_text"], "response": filler(mix.answer_tokens, str(sample.id))})]
    scorer_params = next((registry_params(s) for s in task.scorer or [] if registry_info(s).name.endswith("value_conflict_scorer")), {})
    if scorer_params.get("reasoning_judge", True) and md["free"] and md["goal"] != VALUE_CONTROL:
        judges.append((REASONING_JUDGE, {"reasoning": filler(mix.scratchpad_tokens, str(sample.id))}))
    return judges


SETTING_JUDGES: dict[str, Callable[[Task, Any, Mix], list[tuple[Grader, dict[str, str]]]]] = {
    "tool_selection": _tool_selection_judges,
    "value_conflict": _value_conflict_judges,
}
"""The judges each newer setting calls on one sample, with texts of the assumed lengths."""


def _request(cache: ProviderCache, messages: list[ChatMessage], output_tokens: float) -> Usage:
    read, written = cache.lookup_and_add(messages)
    return Usage(requests=1, choices=1, input_tokens=len(prompt_text(messages)) / CHARS_PER_TOKEN, cached_input_tokens=read,
                 output_tokens=output_tokens, cache_write_tokens=written)


async def _setting(task: Task, model: str, grader: str, mix: Mix, policy: Usage, grading: Usage, notes: list[str]) -> None:
    """A newer setting: every call its solver makes (real prompts) and every judge call (assumed texts)."""
    setting = task.metadata["setting"]
    written = mix.scratchpad_tokens + mix.answer_tokens
    model_cache, grader_cache, recorder = ProviderCache(model), ProviderCache(grader), Recorder(False, grader)
    native = setting == "tool_selection" and (_solver_params(task, "tool_selection_calls") or {}).get("tools") == "native"
    for sample in task.dataset:
        requests = _tool_selection_requests(task, sample) if setting == "tool_selection" else {"input": list(sample.input)}  # type: ignore[arg-type]
        schemas = _tool_schema_tokens(sample) if native else 0.0
        for call, messages in requests.items():
            usage = _request(model_cache, messages, written)
            usage.input_tokens += schemas if call != "baseline" else 0.0
            policy.add(usage)
        for judge, texts in SETTING_JUDGES[setting](task, sample, mix):
            recorder.calls, recorder.messages = [], []
            await replace(judge, max_attempts=1).grade(recorder, **texts)  # type: ignore[arg-type]
            for messages in recorder.messages:
                grading.add(_request(grader_cache, messages, min(float(judge.max_tokens), mix.strongreject_tokens)))
    notes.append(f"{setting}: each response {written:.0f} tokens (--scratchpad-tokens + --answer-tokens), each judge reply "
                 f"{mix.strongreject_tokens:.0f} (--strongreject-tokens); compliance and refusal shares do not apply")
    if native:
        notes.append("tools=native: each call but the baseline counts the scenario's tool schemas as their JSON; the "
                     "provider's own framing of tool definitions is not counted")


def estimate(
    task_name: str,
    task_args: dict[str, Any] | None = None,
    model: str = "",
    grader: str = DEFAULT_GRADER,
    mix: Mix | None = None,
    prices: dict[str, Any] | None = None,
    batch: bool = False,
    epochs: int | None = None,
) -> Estimate:
    """Requests, tokens and cost of a run, without calling a model."""
    mix = mix or Mix()
    mix.check()
    prices = prices or load_prices()
    task_args = dict(task_args or {})
    for role, name in (("--model", model), ("--grader", grader)):
        if "/" not in name:
            raise EstimateError(f"{role} must be an Inspect model name, provider/model (e.g. openai/gpt-4o), got '{name}'")
    if epochs is not None and epochs < 1:
        raise EstimateError(f"--epochs must be at least 1, got {epochs}")
    model_price, grader_price = price_for(prices, model), price_for(prices, grader)  # fail before the work
    short, task = build_task(task_name, task_args)
    epochs = epochs or task.epochs or 1  # the task's own (the newer settings': the published repeats)
    try:
        policy, grading, notes = asyncio.run(_estimate(task, model, grader, mix, epochs))
    except EstimateError:
        raise
    except ValueError as error:  # what the task's own solvers reject (e.g. a prefill on OpenAI)
        raise EstimateError(f"the run would fail: {error}") from error
    lines = []
    for role, name, usage, price in (("model", model, policy, model_price), ("grader", grader, grading, grader_price)):
        provider = name.split("/")[0]
        batched = batch and provider in BATCH_PROVIDERS
        discount = float(prices["batch_discount"].get(provider, 1.0)) if batched else 1.0
        if batch and not batched and usage.requests:
            notes.append(f"{role} {name}: Inspect has no batch mode for provider '{provider}'; full price")
        if batched and provider not in prices["batch_discount"]:
            notes.append(f"{role} {name}: no batch discount known for '{provider}'; full price assumed (add batch_discount.{provider} with --prices)")
        lines.append(Line(role, name, usage, price, batched, cost_of(usage, price, discount)))
    return Estimate(short, task_args, len(task.dataset), epochs, lines, mix, str(prices.get("as_of", "")), notes)


# ------------------------------------------------------------------------------------------- output


def format_estimate(e: Estimate) -> str:
    args = " ".join(f"-T {k}={v}" for k, v in e.task_args.items())
    m = e.mix
    out = [
        f"alignment_faking/{e.task} {args}".rstrip() + f": {e.samples} samples x {e.epochs} epoch(s)",
        f"assumed: compliance {m.compliance:.0%}, bare <rejected/> {m.bare_refusal:.0%}, invalid {m.invalid:.0%}; "
        f"scratchpad {m.scratchpad_tokens:.0f} tok, answer {m.answer_tokens:.0f} tok; grader replies: StrongREJECT "
        f"{m.strongreject_tokens:.0f}, AF {m.af_vote_tokens:.0f}/vote, partial {m.partial_tokens:.0f} tok (each a flag, e.g. --af-vote-tokens)",
        "",
        f"{'role':<7}{'model':<40}{'requests':>10}{'choices':>10}{'input tok':>13}{'cached':>13}{'written':>11}{'output tok':>13}{'USD':>11}",
    ]
    for line in e.lines:
        u = line.usage
        out.append(
            f"{line.role:<7}{line.model[:39]:<40}{u.requests:>10,.0f}{u.choices:>10,.0f}{u.input_tokens:>13,.0f}"
            f"{u.cached_input_tokens:>13,.0f}{u.cache_write_tokens:>11,.0f}{u.output_tokens:>13,.0f}{line.cost:>11,.2f}" + ("  (batch)" if line.batched else "")
        )
    out += [
        f"{'total':<47}{'':>10}{'':>10}{'':>13}{'':>13}{'':>11}{'':>13}{e.total_cost:>11,.2f}",
        "",
        "tokens = characters / 4 (real tokenizers differ); cached = read from the provider's prompt cache, written = written to it"
        " (Anthropic breakpoints; OpenAI's rule, 1,024+ token prompts in 128-token blocks, for the others)",
        f"prices: USD per million tokens, {e.prices_as_of}; override with --prices FILE",
    ]
    out += [f"note: {n}" for n in e.notes]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alignment_faking.analysis.estimate", description=__doc__.split("\n\n")[0])
    parser.add_argument("task", nargs="?", help="a task of the suite, e.g. gap or alignment_faking/three_tiers")
    parser.add_argument("-T", dest="task_args", action="append", default=[], metavar="NAME=VALUE", help="task parameter, as with inspect eval")
    parser.add_argument("--model", help="the model under test, e.g. anthropic/claude-3-opus-20240229")
    parser.add_argument("--grader", default=DEFAULT_GRADER, help=f"the grader role's model (default {DEFAULT_GRADER})")
    parser.add_argument("--prices", default=None, help=f"YAML price file laid over the built-in table ({PRICES_FILE.name})")
    parser.add_argument("--batch", action="store_true", help="both roles use the provider's batch API (Inspect's --batch; see docs/cost.md)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the task's own, 1 for the scenario tasks)")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.add_argument("--write-cost-config", metavar="FILE", default=None,
                        help="write the price table (with --prices) as Inspect's --model-cost-config file, for its cost tracking and --cost-limit")
    defaults = Mix()
    for name, value in vars(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=value, help=f"assumed (default {value})")
    args = parser.parse_args(argv)
    if args.write_cost_config:
        try:
            left_out = write_cost_config(args.write_cost_config, load_prices(args.prices))
        except (EstimateError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"wrote {args.write_cost_config}: use it with inspect eval ... --model-cost-config {args.write_cost_config} [--cost-limit USD]")
        if left_out:
            print(f"left out (patterns, or models Inspect's model database does not know): {', '.join(left_out)}")
        if args.task is None:
            return 0
    if args.task is None or args.model is None:
        parser.error("a task and --model are needed for an estimate (or --write-cost-config FILE alone)")
    mix = Mix(**{name: getattr(args, name) for name in vars(defaults)})
    try:
        result = estimate(args.task, parse_cli_args(args.task_args), args.model, args.grader, mix, load_prices(args.prices), args.batch, args.epochs)
    except EstimateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_estimate(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
