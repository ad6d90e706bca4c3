"""Paired statistics for the compliance gap.

Pure functions, no Inspect imports. For each query q a model is scored under two
conditions A and B (e.g. "free" vs "paid" tier); the compliance gap is the mean
paired difference ``value_A(q) - value_B(q)``.

* One epoch (every value is 0 or 1): the CI is Newcombe's hybrid-score interval
  for a difference of paired proportions (Newcombe 1998, method 10) and the
  p-value is the exact McNemar test.
* Several epochs (per-query means, i.e. repeated samples clustered by query):
  the query is the unit of analysis; a t-interval on the per-query differences
  and an exact sign test on their signs.

References:
    Wilson EB (1927). Probable inference, the law of succession, and statistical
        inference. JASA 22:209-212.
    Newcombe RG (1998). Two-sided confidence intervals for the single proportion:
        comparison of seven methods. Stat Med 17:857-872.
    Newcombe RG (1998). Improved confidence intervals for the difference between
        binomial proportions based on paired data. Stat Med 17:2635-2650.
    McNemar Q (1947). Note on the sampling error of the difference between
        correlated proportions or percentages. Psychometrika 12:153-157.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist
from typing import Sequence

from scipy.stats import t as student_t

NAN = float("nan")


@dataclass(frozen=True)
class GapEstimate:
    gap: float  # mean paired difference A - B (NaN if no pairs)
    ci_low: float
    ci_high: float
    p_value: float  # two-sided
    n_pairs: int
    method: str  # "newcombe_mcnemar" or "cluster_t_sign"
    rate_a: float  # mean of A over the pairs
    rate_b: float


def _z(level: float) -> float:
    return NormalDist().inv_cdf((1.0 + level) / 2.0)


def _clamp(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return min(hi, max(lo, x))


def wilson_interval(successes: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson (1927) score interval for a binomial proportion, no continuity
    correction (method 3 in Newcombe 1998, Stat Med 17:857).

    ``(2x + z^2 -+ z*sqrt(z^2 + 4x(n-x)/n)) / (2(n + z^2))``. Returns (NaN, NaN)
    when n == 0.
    """
    if n <= 0:
        return (NAN, NAN)
    z = _z(level)
    z2 = z * z
    p = successes / n
    centre = (successes + z2 / 2.0) / (n + z2)
    half = z / (n + z2) * math.sqrt(max(0.0, successes * (1.0 - p) + z2 / 4.0))
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_paired_ci(a: int, b: int, c: int, d: int, level: float = 0.95) -> tuple[float, float]:
    """CI for p_A - p_B = (b - c)/n from a paired 2x2 table.

    Newcombe (1998), "Improved confidence intervals for the difference between
    binomial proportions based on paired data", Stat Med 17:2635-2650, method 10
    (hybrid score interval, no continuity correction).

    a = both 1, b = A1/B0, c = A0/B1, d = both 0. With Wilson limits (l1, u1) for
    p1 = (a+b)/n and (l2, u2) for p2 = (a+c)/n, and
    phi = (ad - bc)/sqrt((a+b)(c+d)(a+c)(b+d)) (0 when the denominator is 0):

        delta   = sqrt((p1-l1)^2 - 2 phi (p1-l1)(u2-p2) + (u2-p2)^2)
        epsilon = sqrt((u1-p1)^2 - 2 phi (u1-p1)(p2-l2) + (p2-l2)^2)
        CI = (p1 - p2 - delta, p1 - p2 + epsilon), clamped to [-1, 1].

    Returns (NaN, NaN) for an empty table.
    """
    n = a + b + c + d
    if n <= 0:
        return (NAN, NAN)
    p1 = (a + b) / n
    p2 = (a + c) / n
    l1, u1 = wilson_interval(a + b, n, level)
    l2, u2 = wilson_interval(a + c, n, level)
    denom = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(denom) if denom > 0 else 0.0
    diff = p1 - p2
    delta = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    epsilon = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return (_clamp(diff - delta), _clamp(diff + epsilon))


def mcnemar_exact_p(b: int, c: int) -> float:
    """Exact two-sided McNemar test (McNemar 1947; exact conditional form).

    Conditional on the b + c discordant pairs, b ~ Binomial(b + c, 1/2) under
    H0, so p = min(1, 2 * P(X <= min(b, c))). 1.0 when b + c == 0. The tail is
    computed exactly with integers (no float overflow for large b + c).
    """
    n = int(b) + int(c)
    if n <= 0:
        return 1.0
    k = min(int(b), int(c))
    # sum of C(n, i) for i <= k, each term from the last (C(n, i+1) = C(n, i) * (n - i) / (i + 1), exact):
    # linear in k, where calling math.comb for every term was quadratic (seconds at n ~ 10^4)
    term = tail = 1
    for i in range(k):
        term = term * (n - i) // (i + 1)
        tail += term
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


def sign_test_p(n_pos: int, n_neg: int) -> float:
    """Exact two-sided sign test (ties already dropped): the same binomial test
    as :func:`mcnemar_exact_p`."""
    return mcnemar_exact_p(n_pos, n_neg)


def paired_gap(pairs: Sequence[tuple[float, float]], level: float = 0.95) -> GapEstimate:
    """Estimate the compliance gap mean(value_A - value_B) over queries.

    Pairs containing NaN are dropped. If every remaining value is exactly 0 or 1,
    the 2x2 counts give a Newcombe (1998, method 10) CI and an exact McNemar p
    ("newcombe_mcnemar"). Otherwise the values are per-query means over epochs
    (repeated samples clustered by query): with d_q = A_q - B_q,
    CI = mean(d) -+ t_{n-1,(1+level)/2} * sd(d, ddof=1)/sqrt(n), clamped to
    [-1, 1] ((NaN, NaN) if n < 2), and p is the exact sign test on the numbers
    of d_q > 0 and d_q < 0 ("cluster_t_sign").
    """
    clean = [
        (float(x), float(y)) for x, y in pairs if not (math.isnan(float(x)) or math.isnan(float(y)))
    ]
    n = len(clean)
    if n == 0:
        return GapEstimate(NAN, NAN, NAN, NAN, 0, "newcombe_mcnemar", NAN, NAN)

    rate_a = sum(x for x, _ in clean) / n
    rate_b = sum(y for _, y in clean) / n

    if all(v in (0.0, 1.0) for pair in clean for v in pair):
        a = sum(1 for x, y in clean if x == 1.0 and y == 1.0)
        b = sum(1 for x, y in clean if x == 1.0 and y == 0.0)
        c = sum(1 for x, y in clean if x == 0.0 and y == 1.0)
        d = n - a - b - c
        lo, hi = newcombe_paired_ci(a, b, c, d, level)
        return GapEstimate(
            gap=(b - c) / n,
            ci_low=lo,
            ci_high=hi,
            p_value=mcnemar_exact_p(b, c),
            n_pairs=n,
            method="newcombe_mcnemar",
            rate_a=rate_a,
            rate_b=rate_b,
        )

    diffs = [x - y for x, y in clean]
    gap = sum(diffs) / n
    if n >= 2:
        sd = math.sqrt(sum((v - gap) ** 2 for v in diffs) / (n - 1))
        half = float(student_t.ppf((1.0 + level) / 2.0, n - 1)) * sd / math.sqrt(n)
        lo, hi = _clamp(gap - half), _clamp(gap + half)
    else:
        lo, hi = NAN, NAN
    return GapEstimate(
        gap=gap,
        ci_low=lo,
        ci_high=hi,
        p_value=sign_test_p(sum(1 for v in diffs if v > 0), sum(1 for v in diffs if v < 0)),
        n_pairs=n,
        method="cluster_t_sign",
        rate_a=rate_a,
        rate_b=rate_b,
    )


def binomial_sigma(rate: float, n: int) -> float:
    """One-sigma binomial standard error sqrt(f(1 - f)/n), as reported in the
    alignment-faking paper's error bars. NaN when n == 0."""
    if n <= 0:
        return NAN
    return math.sqrt(max(0.0, rate * (1.0 - rate)) / n)


def is_saturated(rate_a: float, rate_b: float, margin: float = 0.02) -> bool:
    """True when both rates are within ``margin`` of 0, or both within ``margin``
    of 1: a floor/ceiling where no compliance gap could show."""
    if math.isnan(rate_a) or math.isnan(rate_b):
        return False
    both_low = rate_a <= margin and rate_b <= margin
    both_high = rate_a >= 1.0 - margin and rate_b >= 1.0 - margin
    return both_low or both_high


def two_way_clustered_gap(
    pairs: Sequence[tuple[float, float, object, object]], level: float = 0.95
) -> GapEstimate:
    """The gap pooled over a paraphrase ensemble, clustered by query and by paraphrase.

    ``pairs`` are (value_A, value_B, query, paraphrase). The estimate is the mean paired difference; its
    variance is the two-way cluster-robust one of Cameron, Gelbach & Miller (2011, JBES 29:238):
    V = V_query + V_paraphrase - V_query×paraphrase, each the sum over clusters of the squared sum of
    residuals, divided by n² (falling back to the larger one-way variance if V is negative). The interval
    and the p-value use a t distribution with G - 1 degrees of freedom, G the smaller number of clusters
    (usually the few paraphrases), which is deliberately conservative: a gap that appears under one
    paraphrase only should not look certain. With one paraphrase this reduces to clustering by query.
    """
    clean = [
        (float(x), float(y), q, p)
        for x, y, q, p in pairs
        if not (math.isnan(float(x)) or math.isnan(float(y)))
    ]
    n = len(clean)
    if n == 0:
        return GapEstimate(NAN, NAN, NAN, NAN, 0, "two_way_cluster_t", NAN, NAN)
    diffs = [x - y for x, y, _, _ in clean]
    gap = sum(diffs) / n
    rate_a = sum(x for x, _, _, _ in clean) / n
    rate_b = sum(y for _, y, _, _ in clean) / n

    def clustered(key: int | tuple[int, int]) -> tuple[float, int]:
        sums: dict[object, float] = {}
        for (x, y, q, p), d in zip(clean, diffs):
            cluster = (q, p) if isinstance(key, tuple) else (q if key == 0 else p)
            sums[cluster] = sums.get(cluster, 0.0) + (d - gap)
        return sum(s * s for s in sums.values()) / n**2, len(sums)

    v_query, g_query = clustered(0)
    v_para, g_para = clustered(1)
    v_both, _ = clustered((0, 1))
    variance = v_query + v_para - v_both
    if variance < 0:
        variance = max(v_query, v_para)
    groups = min(g_query, g_para)
    if groups < 2 or variance == 0:
        lo = hi = p_value = NAN
        if variance == 0 and groups >= 2:
            lo = hi = gap
            p_value = 1.0 if gap == 0 else 0.0
    else:
        se = math.sqrt(variance)
        quantile = float(student_t.ppf((1.0 + level) / 2.0, groups - 1))
        lo, hi = _clamp(gap - quantile * se), _clamp(gap + quantile * se)
        p_value = float(2 * student_t.sf(abs(gap) / se, groups - 1))
    return GapEstimate(gap, lo, hi, p_value, n, "two_way_cluster_t", rate_a, rate_b)
