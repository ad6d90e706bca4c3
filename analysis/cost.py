"""What a run cost, per model and role, from its log header (no sample is read, so it is cheap at any size).

Inspect records token usage per model (``stats.model_usage``) and per model role (``stats.role_usage``) and,
when the run had prices (``--model-cost-config``, see ``python -m alignment_faking.analysis.estimate
--write-cost-config``), their cost (``ModelUsage.total_cost``). ``run_cost`` splits that into one line per
role: the model under test (``role="model"``) and each model role (the graders). A line whose usage has no
recorded cost is priced from the suite's price table (``analysis/prices.yaml``) when one is given; the line
says which (``source``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspect_ai.log import EvalLog
from inspect_ai.model import ModelUsage

MODEL_UNDER_TEST = "model"


@dataclass(frozen=True)
class CostLine:
    role: str  # "model" (the model under test) or the model role's name, e.g. "grader"
    model: str
    input_tokens: int  # all input tokens: uncached + cache read + cache write
    cache_read_tokens: int
    cache_write_tokens: int
    output_tokens: int
    cost: float | None  # USD; None where neither the log nor the price table has a price
    source: str  # "log" (Inspect's own cost tracking), "prices" (the price table) or "none"


def _minus(a: ModelUsage, b: ModelUsage) -> ModelUsage:
    def sub(x: int | float | None, y: int | float | None) -> Any:
        return None if x is None else x - (y or 0)

    return ModelUsage(
        input_tokens=a.input_tokens - b.input_tokens,
        output_tokens=a.output_tokens - b.output_tokens,
        total_tokens=a.total_tokens - b.total_tokens,
        input_tokens_cache_write=sub(a.input_tokens_cache_write, b.input_tokens_cache_write),
        input_tokens_cache_read=sub(a.input_tokens_cache_read, b.input_tokens_cache_read),
        reasoning_tokens=sub(a.reasoning_tokens, b.reasoning_tokens),
        total_cost=sub(a.total_cost, b.total_cost),
    )


def _role_models(log: EvalLog) -> dict[str, str]:
    roles: dict[str, str] = {}
    for role, config in (log.eval.model_roles or {}).items():
        first = config[0] if isinstance(config, list) else config
        roles[role] = str(first.model)
    return roles


def usage_cost(usage: ModelUsage, price: dict[str, float]) -> float:
    """USD for a usage at a price-table entry (USD per million tokens). Inspect's ``input_tokens`` are the
    uncached ones; cache reads and writes are counted apart."""
    return (
        usage.input_tokens * price["input"]
        + (usage.input_tokens_cache_read or 0) * price["cached_input"]
        + (usage.input_tokens_cache_write or 0) * price["cache_write"]
        + usage.output_tokens * price["output"]
    ) / 1e6


def run_cost(log: EvalLog, prices: dict[str, Any] | None = None) -> list[CostLine]:
    """One line per role (the model under test first), from the log's header.

    ``prices`` is the price table (``analysis.estimate.load_prices()``); without it, only costs Inspect
    recorded in the log are given.
    """
    from alignment_faking.analysis.estimate import EstimateError, price_for

    by_model = dict(log.stats.model_usage)
    roles = _role_models(log)
    usages: list[tuple[str, str, ModelUsage]] = []
    for role, usage in sorted(log.stats.role_usage.items()):
        model = roles.get(role, "")
        usages.append((role, model, usage))
        if model in by_model:
            by_model[model] = _minus(by_model[model], usage)
    tested = str(log.eval.model)
    rest = [(MODEL_UNDER_TEST if m == tested else "other", m, u) for m, u in by_model.items() if m != tested or u.total_tokens]
    lines = []
    for role, model, usage in sorted(rest, key=lambda r: r[0] != MODEL_UNDER_TEST) + usages:
        if not (usage.total_tokens or usage.input_tokens or usage.output_tokens):
            continue
        cost, source = usage.total_cost, "log"
        if cost is None:
            source = "none"
            if prices is not None and model:
                try:
                    cost, source = usage_cost(usage, price_for(prices, model)), "prices"
                except EstimateError:
                    pass
        read, write = usage.input_tokens_cache_read or 0, usage.input_tokens_cache_write or 0
        lines.append(CostLine(role, model, usage.input_tokens + read + write, read, write, usage.output_tokens, cost, source))
    return lines


def format_cost(lines: list[CostLine]) -> str:
    """The cost lines as a plain-text table (the total is over priced lines only)."""
    out = [f"{'role':<8}{'model':<42}{'input tok':>12}{'cache read':>12}{'cache write':>12}{'output tok':>12}{'USD':>10}  source"]
    for line in lines:
        usd = "-" if line.cost is None else f"{line.cost:,.4f}"
        out.append(
            f"{line.role:<8}{line.model[:41]:<42}{line.input_tokens:>12,}{line.cache_read_tokens:>12,}"
            f"{line.cache_write_tokens:>12,}{line.output_tokens:>12,}{usd:>10}  {line.source}"
        )
    priced = [line.cost for line in lines if line.cost is not None]
    out.append(f"{'total':<98}{sum(priced):>10,.4f}" + ("" if len(priced) == len(lines) else "  (unpriced lines left out)"))
    return "\n".join(out)
