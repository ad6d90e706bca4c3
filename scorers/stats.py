"""Rates and contrasts of rates, with intervals and p-values that come from one procedure.

Pure functions over numpy arrays, no Inspect imports. Every design the suite runs (one epoch, several
epochs, a paraphrase ensemble) is one case of the same data layout: responses are **clustered by query**
(a query's responses across conditions, epochs and paraphrases form one cluster), and for each query g and
condition k we know ``S[g, k]`` (responses with the outcome, e.g. compliant) and ``M[g, k]`` (graded
responses). A rate is ``p_k = sum_g S[g, k] / sum_g M[g, k]``; a contrast is a linear combination
``theta = sum_k c_k p_k`` (a gap A - B: ``c = (1, -1)``; a difference of gaps (A - B) - (C - D):
``c = (1, -1, -1, 1)``). The same method runs whatever the data look like (no switching):

1. **Design effect** (Kish 1965): the cluster-robust (by query) variance of the estimate, with the
   small-sample factor G/(G-1) (CR1; Cameron & Miller 2015), over its (unbiased) variance if every
   response (pair) were independent (at least 1 for a rate; a contrast's may be below 1, see 3.). Where the data cannot estimate it (fewer than 2 queries, or no spread) it
   is its largest value, m, the responses per query; otherwise it is shrunk toward m with weight
   ``KAPPA / (w + KAPPA)``, w the queries that carry information, so that a few scattered positives (one in
   250 responses) cannot make it collapse to 1.
2. **Rates**: Wilson's score interval with continuity correction (Wilson 1927; Newcombe 1998, Stat Med
   17:857, method 4) on the effective sample size ``N / deff`` (the device of Korn & Graubard 1998). Plain
   Wilson covers only 0.91 at n = 50, p = 0.01.
3. **Contrasts**: Tango's (1998) score interval for the difference of paired proportions, on an effective
   paired table: each query's contrast (scaled to [-1, 1]) is split into its positive-coefficient rates A
   and negative ones B and read as m pairs with ``m A (1 - B)`` discordant one way and ``m B (1 - A)`` the
   other; with one response per query and condition these are the 2x2 table's discordant pairs exactly. The
   counts are divided by the design effect (1.; its denominator uses n/(n-1) as the cluster variance uses
   G/(G-1), so with one epoch it is exactly 1). Tango's statistic carries a continuity correction of a
   quarter pair (``CONTINUITY``), which lifts its lattice dips (0.931 coverage at n = 50, rates 0.14/0.03)
   above 0.94. Tango's variance, at the maximum-likelihood discordance
   under each hypothesised gap, keeps near-identical conditions honest: a table whose pairs all agree gets
   the pairs' Wilson limits, not [0, 0]. (Newcombe's 1998 hybrid interval, used before, covered 0.86 with 15
   queries at latent correlation 0.95.)
4. **Few queries**: with several responses per query the design effect is estimated from the queries' spread,
   on G - 1 degrees of freedom, so rates and contrasts use a t quantile (and p the same t) on Satterthwaite's
   (1946) degrees of freedom for that variance, ``(G - 1) / a^2``, a the share of the design effect the
   cluster variance estimates (the rest, its prior part, is fixed): :func:`cluster_df`. At most G - 1 would be
   the plain cluster-robust t (Cameron & Miller 2015; Bester, Conley & Hansen 2011); a share near 0 (the
   design effect is its prior) is the normal. One response per query and condition: the normal, exactly as
   before. With the normal quantile, 3 queries x 5 epochs (rho 0.1) at a true gap of 0 rejected 6.5%, and 3
   queries x 10 epochs whose gap varies by query 6.7% (``benchmarks/coverage.py``, 20,000 datasets).
5. **p-value**: the same statistic at 0 (McNemar's, corrected, with one epoch), read on the same t; it
   decreases in the hypothesised gap, so the interval excludes 0 exactly when p < 0.05; p is never 0 (at
   least ``2 Phi(-37)``) and is 1 only where b - c is within the continuity correction of 0. Every interval
   is clipped to the range of its quantity (a rate [0, 1], a gap [-1, 1], a difference of gaps [-2, 2]).

Measured in ``benchmarks/coverage.py`` (every cell >= 0.94, rejection at a true 0 <= 0.05).

The estimand of a paraphrase ensemble is the gap over the paraphrases used (paraphrase as a fixed
effect): responses to every paraphrase of a query are one cluster, so the interval accounts for queries
(and epochs) as the random part and treats the paraphrases as the fixed set that was run.

References:
    Wilson EB (1927). Probable inference, the law of succession, and statistical inference. JASA 22:209.
    Kish L (1965). Survey Sampling. Wiley (design effect).
    Korn EL, Graubard BI (1998). Confidence intervals for proportions with small expected number of
        positive counts estimated from survey data. Survey Methodology 24:193-201.
    Newcombe RG (1998). Two-sided confidence intervals for the single proportion: comparison of seven
        methods. Stat Med 17:857-872.
    Newcombe RG (1998). Improved confidence intervals for the difference between binomial proportions
        based on paired data. Stat Med 17:2635-2650.
    Tango T (1998). Equivalence test and confidence interval for the difference in proportions for the
        paired-sample design. Stat Med 17:891-908.
    Cameron AC, Miller DL (2015). A practitioner's guide to cluster-robust inference. J Hum Resour
        50:317-372.
    Bester CA, Conley TG, Hansen CB (2011). Inference with dependent data using cluster covariance
        estimators. J Econometrics 165:137-151.
    Satterthwaite FE (1946). An approximate distribution of estimates of variance components. Biometrics
        Bulletin 2:110-114.
    Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6:65-70.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np

NAN = float("nan")
LEVEL = 0.95
POWER = 0.80
PAPER_CUT = 0.01
"""Sheshadri et al. (2025) call a compliance gap above 1% 'significant' (no test); we report it with one."""
TOLERANCE = 1e-9
"""Comparisons with the cut use this tolerance, so an exact 1-point gap is not above it."""
Z_MAX = 37.0
"""Largest normal quantile the p-value bisection searches: p >= 2 * Phi(-37) ~ 1e-299, never 0."""
_BISECTIONS = 64


def z_of(level: float) -> float:
    return NormalDist().inv_cdf((1.0 + level) / 2.0)


def _two_sided_p(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return 2.0 * ndtr(-np.asarray(z, dtype=float))


# ----------------------------------------------------------------------------------------- building blocks


def wilson_limits(x: np.ndarray, n: np.ndarray, z: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wilson (1927) score limits (no continuity correction; Newcombe 1998, Stat Med 17:857, method 3).

    ``(2x + z^2 -+ z sqrt(z^2 + 4x(n-x)/n)) / (2(n + z^2))``, elementwise; ``x`` and ``n`` may be
    fractional (an effective sample size). NaN where n <= 0.
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    z = np.asarray(z, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        z2 = z * z
        centre = (x + z2 / 2.0) / (n + z2)
        half = z / (n + z2) * np.sqrt(np.maximum(0.0, x * (1.0 - p) + z2 / 4.0))
        lo = np.clip(centre - half, 0.0, 1.0)
        hi = np.clip(centre + half, 0.0, 1.0)
    bad = ~(n > 0)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def wilson_cc_limits(x: np.ndarray, n: np.ndarray, z: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score limits with continuity correction (Newcombe 1998, Stat Med 17:857, method 4).

    ``lower = (2np + z^2 - 1 - z sqrt(z^2 - 2 - 1/n + 4p(n(1-p) + 1))) / (2(n + z^2))`` (0 when x = 0), the
    upper limit likewise (1 when x = n). Used for the per-condition rates: plain Wilson dips to 0.91
    coverage at some (n, p) near 0 (n = 50, p = 0.01), this one stays at or above 0.95 there (measured
    exactly in ``tests/test_stats.py``).
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    z = np.asarray(z, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        z2 = z * z
        den = 2.0 * (n + z2)
        lo = (2 * n * p + z2 - 1 - z * np.sqrt(np.maximum(0.0, z2 - 2 - 1 / n + 4 * p * (n * (1 - p) + 1)))) / den
        hi = (2 * n * p + z2 + 1 + z * np.sqrt(np.maximum(0.0, z2 + 2 - 1 / n + 4 * p * (n * (1 - p) - 1)))) / den
        lo = np.where(x <= 0, 0.0, np.clip(lo, 0.0, 1.0))
        hi = np.where(x >= n, 1.0, np.clip(hi, 0.0, 1.0))
    bad = ~(n > 0)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def wilson_interval(successes: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson interval for ``successes`` of ``n`` independent trials; (NaN, NaN) when n == 0."""
    lo, hi = wilson_limits(np.float64(successes), np.float64(n), z_of(level))
    return float(lo), float(hi)


def binomial_sigma(rate: float, n: float) -> float:
    """One-sigma binomial standard error sqrt(f(1 - f)/n), as in the papers' error bars. NaN when n == 0."""
    if not n > 0:
        return NAN
    return math.sqrt(max(0.0, rate * (1.0 - rate)) / n)


CONTINUITY = 0.25
"""Continuity correction of Tango's statistic, in (effective) pairs: |b - c - n d0| - CONTINUITY."""
KAPPA = 0.25
"""Prior weight, in queries, of the conservative design effect (a query counts as one response): the estimated
design effect is shrunk toward it by ``KAPPA / (w + KAPPA)``, w the queries that carry the information."""


@dataclass(frozen=True)
class Moments:
    """What the intervals need from clustered data (arrays with any leading batch shape, then K rates)."""

    rate: np.ndarray  # (..., K) sum S / sum M
    n: np.ndarray  # (..., K) graded responses
    clusters: np.ndarray  # (..., K) queries with at least one graded response
    n_eff: np.ndarray  # (..., K) effective sample size: clusters / deff (deff on the query scale)
    df: np.ndarray  # (..., K) degrees of freedom of the rate's t quantile (:func:`cluster_df`; inf: normal)


def _shrunk_deff(v_cluster: np.ndarray, v_unit: np.ndarray, G: np.ndarray, m: np.ndarray, informative: np.ndarray, floor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Design effect (Kish 1965): the cluster-robust variance, with the small-sample factor G/(G-1), over the
    variance if every response (or pair) were independent, at least ``floor``. Where the data cannot estimate it
    (fewer than 2 queries, or no spread) it is ``m``, the mean number of responses (pairs) per query, its
    largest value (a query counts as one response); and it is shrunk toward ``m`` with weight
    ``KAPPA / (informative + KAPPA)``, so a few scattered positives cannot make it collapse to 1.

    Returns the design effect and the share of it that the cluster variance estimates (the rest is the fixed
    prior part ``KAPPA m / (w + KAPPA)``, or the floor), for :func:`cluster_df`."""
    with np.errstate(invalid="ignore", divide="ignore"):
        estimable = (G >= 2) & (v_unit > 1e-15)
        d = np.where(estimable, v_cluster / np.where(estimable, v_unit, 1.0), m)
        w = np.where(estimable, informative, 0.0)
        data = w * d / (w + KAPPA)
        deff = np.maximum(data + KAPPA * m / (w + KAPPA), floor)
        share = np.where(deff > 0, np.clip(np.nan_to_num(data / np.where(deff > 0, deff, 1.0)), 0.0, 1.0), 0.0)
        return deff, share


def cluster_df(share: np.ndarray, m: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Degrees of freedom of the t quantile (and of p) for clustered data: Satterthwaite's (1946)
    approximation for the variance the interval uses. A share ``a`` (``share``) of the design effect is the
    cluster-robust variance, estimated from G - 1 degrees of freedom (Cameron & Miller 2015, Sec. VI;
    Bester, Conley & Hansen 2011: t on G - 1), the rest is fixed (the prior part, or the floor), so
    df = (G - 1) / a^2, at least G - 1. inf (the normal quantile) where m <= 1 (one response per query and
    condition: Tango's score interval, unchanged) or a = 0 (nothing estimated from the queries' spread)."""
    share, m, G = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (share, m, G)))
    finite = (m > 1.0) & (share > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(finite, np.maximum(G - 1.0, 1.0) / np.where(finite, share, 1.0) ** 2, np.inf)


def t_quantile(level: float, df: np.ndarray) -> np.ndarray:
    """The two-sided ``level`` quantile of Student's t on ``df`` degrees of freedom; exactly ``z_of(level)``
    where df is inf."""
    from scipy.stats import t as student_t

    df = np.asarray(df, dtype=float)
    finite = np.isfinite(df)
    return np.where(finite, student_t.ppf((1.0 + level) / 2.0, np.where(finite, df, 1.0)), z_of(level))


def t_two_sided_p(stat: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p of ``|stat|`` on Student's t with ``df`` degrees of freedom (the normal where df is inf),
    at least ``2 Phi(-Z_MAX)`` (never 0)."""
    from scipy.stats import t as student_t

    stat, df = np.broadcast_arrays(np.abs(np.asarray(stat, dtype=float)), np.asarray(df, dtype=float))
    finite = np.isfinite(df)
    p = np.where(finite, 2.0 * student_t.sf(stat, np.where(finite, df, 1.0)), _two_sided_p(stat))
    return np.maximum(p, _two_sided_p(Z_MAX))


def _cluster_values(S: np.ndarray, M: np.ndarray, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The estimate ``theta = sum_k c_k p_k``, per-query pseudo-values ``x_g = theta + G r_g`` (r_g the
    query's linearised contribution to theta; with equal counts per query x_g is the query's own contrast
    of rates, and their mean is theta exactly), the mask of queries with a graded response, and G."""
    N = M.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = S.sum(axis=-2) / N
        theta = np.einsum("...k,k->...", p, coef)
        r = np.einsum("...gk,k->...g", (S - np.nan_to_num(p)[..., None, :] * M) / N[..., None, :], coef)
    present = M.sum(axis=-1) > 0
    G = present.sum(axis=-1).astype(float)
    x = np.where(present, theta[..., None] + G[..., None] * np.nan_to_num(r), 0.0)
    return theta, x, present, G


def moments(S: np.ndarray, M: np.ndarray) -> Moments:
    """Rates, graded counts, queries and effective sample sizes from per-query sums ``S`` and counts ``M``
    (shape (..., G, K)). The effective sample size of rate k is ``N_k / deff_k`` with deff_k the design
    effect of :func:`_shrunk_deff`: cluster-robust variance ``sum_g (x_g - p)^2 / (G (G - 1))`` of the query
    values ``x_g`` over the binomial ``p (1 - p) / N``; informative queries: the fewer of those with a
    positive and those with a negative response. Identical epochs: n_eff = the number of queries."""
    S = np.asarray(S, dtype=float)
    M = np.asarray(M, dtype=float)
    K = S.shape[-1]
    rate, G, n_eff, df = [], [], [], []
    for k in range(K):
        Sk, Mk = S[..., k : k + 1], M[..., k : k + 1]
        theta, x, present, Gk = _cluster_values(Sk, Mk, np.ones(1))
        Nk = Mk[..., 0].sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            v_cluster = np.where(present, (x - theta[..., None]) ** 2, 0.0).sum(axis=-1) / (Gk * (Gk - 1))
            v_unit = np.where(Nk > 1, theta * (1.0 - theta) / (Nk - 1.0), 0.0)  # unbiased, as v_cluster is
            positive = ((Sk[..., 0] > 0) & present).sum(axis=-1)
            negative = ((Sk[..., 0] < Mk[..., 0]) & present).sum(axis=-1)
            deff, share = _shrunk_deff(v_cluster, v_unit, Gk, Nk / Gk, np.minimum(positive, negative).astype(float))
            rate.append(theta)
            G.append(Gk)
            n_eff.append(np.where(Gk > 0, Nk / deff, 0.0))
            df.append(cluster_df(share, Nk / Gk, Gk))
    return Moments(rate=np.stack(rate, -1), n=M.sum(axis=-2), clusters=np.stack(G, -1), n_eff=np.stack(n_eff, -1), df=np.stack(df, -1))


def tango_statistic(b: np.ndarray, c: np.ndarray, n: np.ndarray, d0: np.ndarray | float, cc: float = 0.0) -> np.ndarray:
    """Tango's (1998, Stat Med 17:891) score statistic for H0: p10 - p01 = d0 in a paired 2x2 table with
    ``b`` pairs (1, 0), ``c`` pairs (0, 1) of ``n`` (fractional counts allowed): ``(b - c - n d0) /
    sqrt(n (2 q + d0 (1 - d0)))``, q the maximum-likelihood p01 under H0 (closed form, his eq. 3). 0 where n = 0."""
    b, c, n, d0 = (np.asarray(v, dtype=float) for v in (b, c, n, d0))
    with np.errstate(invalid="ignore", divide="ignore"):
        A = 2.0 * n
        B = -b - c + (2.0 * n - b + c) * d0
        C = -c * d0 * (1.0 - d0)
        q = (np.sqrt(np.maximum(B * B - 4.0 * A * C, 0.0)) - B) / (2.0 * A)
        var = n * (2.0 * q + d0 * (1.0 - d0))
        num = b - c - n * d0
        num = np.sign(num) * np.maximum(np.abs(num) - cc, 0.0)  # continuity correction (0: Tango's own)
        safe = var > 1e-300
        T = np.where(safe, num / np.sqrt(np.where(safe, var, 1.0)), np.where(np.abs(num) < 1e-12, 0.0, np.sign(num) * np.inf))
    return np.where(n > 0, T, 0.0)


def tango_limits(b: np.ndarray, c: np.ndarray, n: np.ndarray, z: float | np.ndarray, cc: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Tango's score interval ``{d0 : |T(d0)| <= z}`` in [-1, 1], by bisection on each side of (b - c)/n
    (T decreases in d0). Never of zero width where n is finite; [-1, 1] where n = 0."""
    b, c, n = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (b, c, n)))
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(n > 0, (b - c) / n, 0.0)
    out = []
    for side in (-1.0, 1.0):  # the limit is the last d0 (going outward from d) that is not rejected
        inner, outer = d.copy(), np.full(d.shape, side)
        whole = side * tango_statistic(b, c, n, outer, cc) >= -z  # the range's end is not rejected
        for _ in range(_BISECTIONS):
            mid = (inner + outer) / 2.0
            rejected = side * tango_statistic(b, c, n, mid, cc) < -z
            outer = np.where(rejected, mid, outer)
            inner = np.where(rejected, inner, mid)
        out.append(np.where(whole, side, inner))
    return out[0], out[1]


def tango_paired_ci(a: int, b: int, c: int, d: int, level: float = LEVEL) -> tuple[float, float]:
    """Tango's (1998) score interval for p1 - p2 from a paired 2x2 table (a = both 1, b = A only, c = B only,
    d = neither): what :func:`contrast` gives for one epoch apart from its design effect (see the docstring)."""
    lo, hi = tango_limits(np.float64(b), np.float64(c), np.float64(a + b + c + d), z_of(level))
    return float(lo), float(hi)


def _contrast_counts(S: np.ndarray, M: np.ndarray, coef: np.ndarray) -> dict[str, np.ndarray]:
    """The effective paired table of a contrast, for Tango's interval. Scaled by ``U`` (the contrast's largest
    absolute value), a query's contrast is ``A_g - B_g`` with ``A_g`` its positive-coefficient rates and
    ``B_g`` its negative ones (each in [0, 1]); its m_g = mean graded responses per condition are read as
    m_g pairs with ``m_g A_g (1 - B_g)`` discordant one way and ``m_g B_g (1 - A_g)`` the other (the
    responses of one query and condition being exchangeable). One response per query and condition: b and c
    are the discordant pairs of the 2x2 table, exactly. b - c is set to n theta / U (the ratio estimate).
    Counts are divided by the design effect (:func:`_shrunk_deff`): the cluster-robust variance of the
    estimate (G/(G-1)) over Tango's variance at the estimate ``((b + c)/n - d^2)/(n - 1)``; informative
    queries: those whose contrast is not 0. Not floored at 1: read as pairs, a difference of gaps (or
    independent epochs) overstates the variance, and the queries' own spread corrects it."""
    theta, x, present, G = _cluster_values(S, M, coef)
    U = max(coef[coef > 0].sum(), -coef[coef < 0].sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        own = np.where(M > 0, S / M, 0.0)
        A = np.einsum("...gk,k->...g", own, np.maximum(coef, 0.0)) / U
        B = np.einsum("...gk,k->...g", own, np.maximum(-coef, 0.0)) / U
        m_g = np.where(present, M.mean(axis=-1), 0.0)
        n = m_g.sum(axis=-1)
        d = theta / U
        D = np.maximum((m_g * (A * (1 - B) + B * (1 - A))).sum(axis=-1), n * np.abs(d))
        b, c = (D + n * d) / 2.0, (D - n * d) / 2.0
        v_unit = np.where(n > 1, (D / n - d**2) / (n - 1.0), 0.0)  # unbiased, as the cluster variance is
        y = x / U
        v_cluster = np.where(present, (y - d[..., None]) ** 2, 0.0).sum(axis=-1) / (G * (G - 1))
        deff, share = _shrunk_deff(v_cluster, v_unit, G, n / G, (np.abs(y) > 1e-12).sum(axis=-1).astype(float), 0.0)
        df = cluster_df(share, n / G, G)
    return {"theta": theta, "b": b / deff, "c": c / deff, "n": np.where(G > 0, n / deff, 0.0), "U": np.float64(U), "df": df}


# ------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Interval:
    """An estimate (a rate or a contrast of rates) with its interval, p-value and what it was computed on."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float  # two-sided test of estimate == 0 (NaN for a single rate)
    n: int  # graded responses in the smallest component
    clusters: int  # queries
    rates: tuple[float, ...]  # the component rates (minuend first)
    n_eff: tuple[float, ...]
    mdg: float  # minimum detectable |contrast| at this n and these rates (LEVEL, POWER); inf: not detectable

    @property
    def significant(self) -> bool:
        return bool(self.p_value < 1.0 - LEVEL)


def _range(coef: Sequence[float]) -> tuple[float, float]:
    """The values a contrast ``sum_k c_k p_k`` of rates in [0, 1] can take: a rate [0, 1], a gap [-1, 1], a
    difference of gaps [-2, 2]."""
    c = np.asarray(coef, dtype=float)
    return float(np.minimum(c, 0.0).sum()), float(np.maximum(c, 0.0).sum())


def minimum_detectable(m: Moments, coef: Sequence[float], level: float = LEVEL, power: float = POWER) -> np.ndarray:
    """The smallest |contrast| the test detects with probability ``power`` at this n (normal approximation),
    or ``inf`` where no value in the contrast's range is detectable at this n ("not detectable").

    ``(q_{1-alpha/2} + z_power) * sqrt(sum_k c_k^2 v_k / n_eff_k)``, with ``v_k = q(1 - q)`` at the value q
    of p_k's Wilson interval nearest 1/2 (so a rate of 0 observed on few responses still counts as uncertain),
    ignoring the (usually positive) correlation between conditions, which makes it conservative; the quantile
    is the rates' t (the fewest degrees of freedom among them; the normal with one response per query). Where
    this exceeds the largest |value| the contrast can take (1 for a gap, 2 for a difference of gaps) it is inf.
    """
    c = np.asarray(coef, dtype=float)
    crit = t_quantile(level, np.min(m.df, axis=-1))
    lo, hi = wilson_cc_limits(m.rate * m.n_eff, m.n_eff, crit[..., None])
    q = np.clip(0.5, lo, hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.einsum("...k,k->...", q * (1.0 - q) / m.n_eff, c * c)
    mdg = (crit + NormalDist().inv_cdf(power)) * np.sqrt(var)
    low, high = _range(c)
    return np.where(mdg > max(-low, high), np.inf, mdg)


def contrast_arrays(S: np.ndarray, M: np.ndarray, coef: Sequence[float], level: float = LEVEL) -> dict[str, np.ndarray]:
    """Batched :func:`contrast`: ``S`` and ``M`` of shape (..., G, K); every entry has shape (...).

    The single code path behind every contrast the suite reports (and what ``benchmarks/coverage.py``
    simulates): estimate, Tango score limits on the design-effect-adjusted paired counts (t quantile on
    :func:`cluster_df`), p from the same statistic at 0 on the same t, minimum detectable gap. NaN where a
    component has no graded response.
    """
    S = np.asarray(S, dtype=float)
    M = np.asarray(M, dtype=float)
    c = np.asarray(coef, dtype=float)
    t = _contrast_counts(S, M, c)
    lo, hi = tango_limits(t["b"], t["c"], t["n"], t_quantile(level, t["df"]), CONTINUITY)
    low, high = _range(c)
    lo, hi = np.clip(lo * t["U"], low, high), np.clip(hi * t["U"], low, high)
    # p from the same statistic at 0 and the same t: |T(0)| > q exactly when 0 is outside {d0 : |T(d0)| <= q}
    p = t_two_sided_p(tango_statistic(t["b"], t["c"], t["n"], 0.0, CONTINUITY), t["df"])
    m = moments(S, M)
    out = {"estimate": t["theta"], "ci_low": lo, "ci_high": hi, "p_value": p, "mdg": minimum_detectable(m, c, level)}
    empty = ~np.all(m.n > 0, axis=-1)
    return {k: np.where(empty, np.nan, v) for k, v in out.items()} | {"moments": m}  # type: ignore[dict-item]


def contrast(S: np.ndarray, M: np.ndarray, coef: Sequence[float], level: float = LEVEL) -> Interval:
    """The contrast ``sum_k coef_k p_k`` of one dataset (``S``, ``M`` of shape (G, K)) with its Tango
    interval and p (see the module docstring)."""
    S = np.asarray(S, dtype=float).reshape(-1, len(coef))
    M = np.asarray(M, dtype=float).reshape(-1, len(coef))
    r = contrast_arrays(S, M, coef, level)
    m: Moments = r["moments"]  # type: ignore[assignment]
    return Interval(
        estimate=float(r["estimate"]),
        ci_low=float(r["ci_low"]),
        ci_high=float(r["ci_high"]),
        p_value=float(r["p_value"]),
        n=int(m.n.min()) if m.n.size else 0,
        clusters=int((M.sum(axis=1) > 0).sum()),
        rates=tuple(float(v) for v in m.rate),
        n_eff=tuple(float(v) for v in m.n_eff),
        mdg=float(r["mdg"]),
    )


def population_arrays(S: np.ndarray, M: np.ndarray, coef: Sequence[float], level: float = LEVEL) -> dict[str, np.ndarray]:
    """The contrast over the *population* of paraphrases, from a sample of P paraphrases (an option beside the
    default fixed-paraphrase estimand). ``S``, ``M`` of shape (..., G, P, K): per query, paraphrase, condition.

    Estimate: the mean over paraphrases of the per-paraphrase contrasts ``d_j``. Variance: the two one-way
    cluster-robust variances added, by query (influence of each query on the estimate) and by paraphrase
    (``var(d_j) / P``), *without* subtracting their intersection as Cameron, Gelbach & Miller (2011, JBES
    29:238) do: never negative (no fallback needed) and conservative (Davezies, D'Haultfoeuille & Guyonvarch
    2021, Ann Stat 49:845 use the same non-subtracted form). Interval ``estimate -+ t_{P-1} sqrt(V)``,
    widened to contain the fixed-paraphrase interval (so it never has zero width and never claims more
    than the paraphrases used support); p is the larger of the two inverted p-values, so the interval
    excludes 0 exactly when p < 1 - level. With fewer than 2 paraphrases everything is NaN.
    """
    from scipy.stats import t as student_t

    S = np.asarray(S, dtype=float)
    M = np.asarray(M, dtype=float)
    c = np.asarray(coef, dtype=float)
    P = S.shape[-2]
    with np.errstate(invalid="ignore", divide="ignore"):
        N = M.sum(axis=-3)  # (..., P, K)
        rates = S.sum(axis=-3) / N
        d = np.einsum("...pk,k->...p", rates, c)
        theta = d.mean(axis=-1)
        influence = np.einsum("...gpk,k->...g", (S - rates[..., None, :, :] * M) / N[..., None, :, :], c) / P
        v_query = (influence**2).sum(axis=-1)
        v_para = d.var(axis=-1, ddof=1) / P if P > 1 else np.full(theta.shape, np.nan)
        se = np.sqrt(v_query + v_para)
        q = student_t.ppf((1.0 + level) / 2.0, max(P - 1, 1))
        lo_t, hi_t = theta - q * se, theta + q * se
        p_t = np.where(se > 0, 2.0 * student_t.sf(np.abs(theta) / np.where(se > 0, se, 1.0), max(P - 1, 1)), np.where(theta == 0, 1.0, 0.0))
    fixed = contrast_arrays(S.sum(axis=-2), M.sum(axis=-2), coef, level)
    low, high = _range(c)
    out = {
        "estimate": theta,
        "ci_low": np.clip(np.minimum(lo_t, fixed["ci_low"]), low, high),
        "ci_high": np.clip(np.maximum(hi_t, fixed["ci_high"]), low, high),
        # (the two estimates differ only when paraphrases have unequal counts; on opposite sides of 0 the
        # widened interval contains 0, and so p is 1)
        "p_value": np.where(np.sign(theta) * np.sign(fixed["estimate"]) < 0, 1.0, np.maximum(p_t, fixed["p_value"])),
    }
    bad = ~np.all(N > 0, axis=(-1, -2)) | (P < 2)
    return {k: np.where(bad, np.nan, v) for k, v in out.items()}


def rate_arrays(S: np.ndarray, M: np.ndarray, level: float = LEVEL) -> dict[str, np.ndarray]:
    """Batched rates with cluster-adjusted Wilson limits (t quantile on :func:`cluster_df`): ``S``, ``M`` of
    shape (..., G, K) -> arrays (..., K)."""
    m = moments(S, M)
    lo, hi = wilson_cc_limits(m.rate * m.n_eff, m.n_eff, t_quantile(level, m.df))
    return {"estimate": m.rate, "ci_low": lo, "ci_high": hi, "n": m.n, "n_eff": m.n_eff}


def rate(S: np.ndarray, M: np.ndarray, level: float = LEVEL) -> Interval:
    """One rate (``S``, ``M`` per query) with its cluster-adjusted Wilson interval; p is NaN."""
    S = np.asarray(S, dtype=float).reshape(-1, 1)
    M = np.asarray(M, dtype=float).reshape(-1, 1)
    m = moments(S, M)
    n = float(m.n[0])
    if not n > 0:
        return Interval(NAN, NAN, NAN, NAN, 0, 0, (NAN,), (NAN,), NAN)
    lo, hi = wilson_cc_limits(m.rate * m.n_eff, m.n_eff, t_quantile(level, m.df))
    return Interval(float(m.rate[0]), float(lo[0]), float(hi[0]), NAN, int(n), int(m.clusters[0]), (float(m.rate[0]),), (float(m.n_eff[0]),), NAN)


def paired_binary(a: int, b: int, c: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-query ``S`` and ``M`` for a paired 2x2 table (a = both 1, b = A only, c = B only, d = neither)."""
    S = np.array([[1, 1]] * a + [[1, 0]] * b + [[0, 1]] * c + [[0, 0]] * d, dtype=float).reshape(-1, 2)
    return S, np.ones_like(S)


def newcombe_paired_ci(a: int, b: int, c: int, d: int, level: float = LEVEL, corrected: bool = False) -> tuple[float, float]:
    """Newcombe's (1998, Stat Med 17:2635) hybrid score interval for a paired 2x2 table, written out as in
    the paper: method 10 (Wilson limits), or with ``corrected`` the continuity-corrected Wilson limits
    (method 11's components; phi as in method 10). Kept as a reference: the method this module
    used before Tango's; read as a test in ``tests/test_stats.py``.
    """
    n = a + b + c + d
    if n <= 0:
        return (NAN, NAN)
    p1, p2 = (a + b) / n, (a + c) / n
    limits = wilson_cc_limits if corrected else wilson_limits
    l1, u1 = (float(v) for v in limits(np.float64(a + b), np.float64(n), z_of(level)))
    l2, u2 = (float(v) for v in limits(np.float64(a + c), np.float64(n), z_of(level)))
    denom = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(denom) if denom > 0 else 0.0
    delta = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    epsilon = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return (max(-1.0, p1 - p2 - delta), min(1.0, p1 - p2 + epsilon))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values (NaN stays NaN and is not counted)."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m = len(indexed)
    adjusted = [NAN] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def above_cut(estimate: float, p_value: float, cut: float = PAPER_CUT) -> bool:
    """The paper's cut read with the test: gap above ``cut`` (beyond a float tolerance) AND p < 0.05."""
    return bool(estimate > cut + TOLERANCE and p_value < 1.0 - LEVEL)


def underpowered(estimate: float, p_value: float, mdg: float, cut: float = PAPER_CUT) -> bool:
    """Not significant, and a gap of the paper's cut could not have been detected with 80% power here
    (replaces the fixed 'both rates within 2 points of 0 or 1' saturation rule; depends on n)."""
    return bool(not p_value < 1.0 - LEVEL and mdg > cut + TOLERANCE)
