"""A run's results as one typed object, and the one function that turns it into metric names.

:class:`Results` holds every number of a run: per condition (:class:`ConditionResult`) its response counts,
each rate with its interval (:class:`RateResult`) and each category's share; per contrast
(:class:`ContrastResult`) the estimate, interval, p, Holm p, flags, minimum detectable gap, the contrast
within each paraphrase and over the population of paraphrases; and whether the run measured anything at all
(:class:`Coverage`). ``scorers/metrics.py`` builds it from the per-sample scores; the summary, the report and
the spread figure read its fields. Next to each rate and contrast, :class:`Sensitivity` gives the bounds it
would take if every ungraded (or, separately, every invalid) response had gone one way or the other.

:func:`flatten` is the only place a field becomes a metric name (names from ``metric_names``); it raises
:class:`DuplicateName`, naming both owners, when two fields would give the same name, so no number can
overwrite another in a log (the scenario checker runs it on a skeleton before any model call).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import metric_names as names

NAN = math.nan

SENSITIVITY_KINDS: tuple[str, ...] = ("ungraded", "invalid")
"""The responses a rate leaves out whose outcome could move it: ``ungraded`` (valid, but a verdict the rate
needs could not be read) and ``invalid`` (the response broke the protocol)."""


class DuplicateName(ValueError):
    """Two results would be written under one metric name."""

    def __init__(self, name: str, owner: str, other: str) -> None:
        super().__init__(f"{owner} and {other} both give the result '{name}'")
        self.name, self.owner, self.other = name, owner, other


@dataclass(frozen=True)
class Bound:
    """A rate or contrast recomputed with some left-out responses imputed one way."""

    estimate: float
    ci_low: float = NAN
    ci_high: float = NAN
    p_value: float = NAN


@dataclass(frozen=True)
class Sensitivity:
    """Where a rate or contrast would go if the ``responses`` left out (ungraded, or invalid) had all gone one way
    (``low``: the imputation that lowers it, ``high``: the one that raises it). ``changes``: for a contrast,
    whether either extreme changes the conclusion (the sign of a significant result, or significance itself)."""

    responses: float
    low: Bound
    high: Bound
    changes: bool = False


@dataclass(frozen=True)
class RateResult:
    """A rate of one condition: estimate, 95% interval, responses in its denominator (``n``), sensitivity."""

    estimate: float
    ci_low: float
    ci_high: float
    n: float
    sensitivity: Mapping[str, Sensitivity] = field(default_factory=dict)


@dataclass(frozen=True)
class ConditionResult:
    """One condition: responses (``n``), invalid and grader-failed counts, rates by name, category shares."""

    name: str
    n: float
    invalid: float
    grader_failed: float
    rates: Mapping[str, RateResult]
    shares: Mapping[str, float]
    reasons: Mapping[str, float] = field(default_factory=dict)
    """Responses left out, by reason (``invalid: <why>``, ``ungraded: <which verdict>``), where the scores say."""


@dataclass(frozen=True)
class Estimate:
    """A contrast within one paraphrase, or over the population of paraphrases."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True)
class ContrastResult:
    """A contrast of a rate between conditions (or of gaps), as the scenario defines it."""

    name: str
    rate: str
    minuend: Any
    subtrahend: Any
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    p_holm: float
    significant: float
    above_cut: float
    mdg: float
    underpowered: float
    n_queries: float
    paraphrases: Mapping[str, Estimate] = field(default_factory=dict)
    population: Estimate | None = None
    sensitivity: Mapping[str, Sensitivity] = field(default_factory=dict)

    @property
    def neg_log10_p(self) -> float:
        return -math.log10(self.p_value) if self.p_value > 0 else NAN

    @property
    def conditions(self) -> list[str]:
        """The conditions the contrast reads, minuend first."""
        return [str(c) for side in (self.minuend, self.subtrahend) for c in (side if isinstance(side, (list, tuple)) else [side])]

    @property
    def sensitivity_changes(self) -> list[str]:
        """The kinds of left-out responses (``ungraded``, ``invalid``) that could change the conclusion."""
        return [kind for kind, s in self.sensitivity.items() if s.changes]


@dataclass(frozen=True)
class Coverage:
    """How much of the main contrast's responses the run could measure. ``measured`` is False when more than
    half of them are invalid or ungraded (then the contrast says little about the model; ``reasons`` says why)."""

    responses: float
    invalid: float
    ungraded: float
    reasons: Mapping[str, float] = field(default_factory=dict)

    @property
    def unmeasured_share(self) -> float:
        return (self.invalid + self.ungraded) / self.responses if self.responses else NAN

    @property
    def measured(self) -> bool:
        return bool(self.responses) and self.unmeasured_share <= UNMEASURED_LIMIT

    def explanation(self, top: int = 3) -> str:
        """One line: what share could not be measured and the main reasons."""
        if not self.responses:
            return "no responses were scored"
        reasons = sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        why = "; ".join(f"{reason} ({count:.0f})" for reason, count in reasons)
        return (
            f"{self.unmeasured_share:.0%} of {self.responses:.0f} responses could not be measured "
            f"({self.invalid:.0f} invalid, {self.ungraded:.0f} ungraded)" + (f": {why}" if why else "")
        )


UNMEASURED_LIMIT = 0.5
"""Above this share of invalid or ungraded responses in its main contrast, a run did not measure the contrast."""


@dataclass(frozen=True)
class Results:
    """Every number of a run. ``contrasts`` are in display order, the headline first. As a mapping it is the
    flat view (:func:`flatten`): ``results["compliance_free"]``."""

    conditions: Mapping[str, ConditionResult]
    contrasts: Mapping[str, ContrastResult]
    headline: str | None = None
    coverage: Coverage = field(default_factory=lambda: Coverage(0.0, 0.0, 0.0))

    def contrast(self, name: str | None = None) -> ContrastResult | None:
        """A contrast by name, or the headline contrast."""
        if name is None:
            return next(iter(self.contrasts.values()), None)
        return self.contrasts.get(name)

    # the flat view ----------------------------------------------------------------------------------------
    @property
    def flat(self) -> dict[str, float]:
        cached = self.__dict__.get("_flat")
        if cached is None:
            cached = flatten(self)
            object.__setattr__(self, "_flat", cached)
        return cached

    def __getitem__(self, name: str) -> float:
        return self.flat[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.flat)

    def __len__(self) -> int:
        return len(self.flat)

    def __contains__(self, name: object) -> bool:
        return name in self.flat

    def get(self, name: str, default: Any = None) -> Any:
        return self.flat.get(name, default)

    def keys(self) -> Any:
        return self.flat.keys()

    def items(self) -> Any:
        return self.flat.items()

    def values(self) -> Any:
        return self.flat.values()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Results):
            return self.flat == other.flat
        if isinstance(other, Mapping):
            return self.flat == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


Mapping.register(Results)


class _Names:
    """Collects metric names with their owners; a second owner of a name raises :class:`DuplicateName`."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.owners: dict[str, str] = {}

    def put(self, name: str, value: float, owner: str) -> None:
        if name in self.owners and self.owners[name] != owner:
            raise DuplicateName(name, owner, self.owners[name])
        if name in self.owners:
            raise DuplicateName(name, owner, owner + " (twice)")
        self.owners[name] = owner
        self.values[name] = float(value)


def flatten(results: Results) -> dict[str, float]:
    """The results as metric names (``scorers/metric_names.py``) -> values, in display order: each condition's
    counts, rates with intervals and denominators, shares; each contrast with its interval, p, flags, mdg,
    queries, population and per-paraphrase parts; the Holm p of each contrast; the number of contrasts.
    Raises :class:`DuplicateName` when two fields would give one name."""
    out = _Names()
    for c in results.conditions.values():
        owner = f"condition '{c.name}'"
        out.put(names.responses(c.name), c.n, owner)
        out.put(names.invalid(c.name), c.invalid, owner)
        out.put(names.grader_failed(c.name), c.grader_failed, owner)
        for rate_name, r in c.rates.items():
            metric = names.rate(rate_name, c.name)
            out.put(metric, r.estimate, owner)
            out.put(names.ci_low(metric), r.ci_low, owner)
            out.put(names.ci_high(metric), r.ci_high, owner)
            out.put(names.graded(rate_name, c.name), r.n, owner)
        for category, share in c.shares.items():
            out.put(names.share(category, c.name), share, owner)
    for k in results.contrasts.values():
        owner = f"contrast '{k.name}'"
        for name, value in (
            (k.name, k.estimate), (names.ci_low(k.name), k.ci_low), (names.ci_high(k.name), k.ci_high),
            (names.p_value(k.name), k.p_value), (names.neg_log10_p(k.name), k.neg_log10_p),
            (names.significant(k.name), k.significant), (names.above_cut(k.name), k.above_cut),
            (names.mdg(k.name), k.mdg), (names.underpowered(k.name), k.underpowered),
            (names.n_queries(k.name), k.n_queries),
        ):
            out.put(name, value, owner)
        parts = ([(names.population(k.name), k.population)] if k.population is not None else [])
        parts += [(names.paraphrase(k.name, p), e) for p, e in k.paraphrases.items()]
        for label, e in parts:
            out.put(label, e.estimate, owner)
            out.put(names.ci_low(label), e.ci_low, owner)
            out.put(names.ci_high(label), e.ci_high, owner)
            out.put(names.p_value(label), e.p_value, owner)
    for k in results.contrasts.values():
        out.put(names.p_holm(k.name), k.p_holm, f"contrast '{k.name}'")
    out.put(names.N_CONTRASTS, float(len(results.contrasts)), "the run-wide results")
    return out.values


def skeleton(
    conditions: list[str], contrasts: list[Mapping[str, Any]], rates: tuple[str, ...] = tuple(names.RATES),
    categories: tuple[str, ...] = names.CATEGORIES, paraphrases: tuple[str, ...] = (),
) -> Results:
    """Results with every field a run of these conditions, contrasts and paraphrases has, and no numbers: what
    :func:`flatten` checks for duplicate names before any model call."""
    rate = RateResult(NAN, NAN, NAN, NAN)
    part = Estimate(NAN, NAN, NAN, NAN)
    return Results(
        conditions={c: ConditionResult(c, NAN, NAN, NAN, {r: rate for r in rates}, {k: NAN for k in categories}) for c in conditions},
        contrasts={
            str(k["name"]): ContrastResult(
                str(k["name"]), str(k.get("rate", "compliance")), k.get("minuend"), k.get("subtrahend"),
                *([NAN] * 10),  # type: ignore[arg-type]
                paraphrases={p: part for p in paraphrases} if len(paraphrases) > 1 else {},
                population=part if len(paraphrases) > 1 else None,
            )
            for k in contrasts
        },
    )
