"""Tests for alignment_faking.scorers.stats: rates and contrasts with intervals and p from one procedure."""

import dataclasses
import importlib.util
import math
import sys
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
from scipy.stats import binom, chi2, multinomial, multivariate_normal, norm
from scipy.stats import t as student_t

from alignment_faking.scorers.stats import (
    PAPER_CUT,
    above_cut,
    binomial_sigma,
    contrast,
    contrast_arrays,
    holm,
    moments,
    newcombe_paired_ci,
    paired_binary,
    population_arrays,
    rate,
    rate_arrays,
    tango_limits,
    tango_paired_ci,
    tango_statistic,
    underpowered,
)
from alignment_faking.scorers import stats
from alignment_faking.scorers.stats import (
    CONTINUITY,
    cluster_df,
    t_quantile,
    wilson_cc_limits,
    wilson_interval,
    wilson_limits,
    z_of,
)

Z = 1.959963984540054

# --------------------------------------------------------------------------------------------- Wilson


@pytest.mark.parametrize(
    "x,n,lo,hi",
    [  # Newcombe (1998) Stat Med 17:857, Table II, method 3 (Wilson score, no CC)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_published_values(x, n, lo, hi):
    assert wilson_interval(x, n) == pytest.approx((lo, hi), abs=5e-5)


@pytest.mark.parametrize(
    "x,n,lo,hi",
    [  # Newcombe (1998) Stat Med 17:857, Table II, method 4 (Wilson score with continuity correction)
        (81, 263, 0.2535, 0.3682),
        (15, 148, 0.0598, 0.1644),
        (0, 20, 0.0000, 0.2005),
        (1, 29, 0.0018, 0.1963),
    ],
)
def test_wilson_cc_published_values(x, n, lo, hi):
    got = tuple(float(v) for v in wilson_cc_limits(np.float64(x), np.float64(n), Z))
    assert got == pytest.approx((lo, hi), abs=5e-5)


def test_wilson_empty_and_level():
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    lo95, hi95 = wilson_interval(3, 20)
    lo99, hi99 = wilson_interval(3, 20, level=0.99)
    assert lo99 < lo95 < 3 / 20 < hi95 < hi99


def _exact_coverage(limits, n: int, p: float) -> float:
    x = np.arange(n + 1, dtype=float)
    lo, hi = limits(x, np.full(n + 1, float(n)), Z)
    return float(binom.pmf(x, n, p)[(lo <= p) & (p <= hi)].sum())


def test_rate_interval_covers_where_plain_wilson_does_not():
    # exact binomial coverage: plain Wilson dips to 0.91 near 0, the continuity-corrected one (the rates'
    # interval) stays above 0.95 over the benchmark's grid
    assert _exact_coverage(wilson_limits, 50, 0.01) < 0.92
    for n in (25, 50, 100, 200, 400):
        for p in (0.01, 0.03, 0.05, 0.1, 0.14, 0.3, 0.6):
            assert _exact_coverage(wilson_cc_limits, n, p) >= 0.95, (n, p)


# ----------------------------------------------------------------------------------------------- Tango


def test_tango_all_concordant_is_wilson_on_the_pairs():
    # b = c = 0: the constrained MLE puts the discordance at the range's end, so the limits are z^2/(n + z^2)
    for n in (1, 10, 50):
        lo, hi = tango_paired_ci(n // 2, 0, 0, n - n // 2)
        assert hi == pytest.approx(Z**2 / (n + Z**2), abs=1e-9) and lo == pytest.approx(-hi, abs=1e-9)


def test_tango_statistic_at_zero_is_mcnemar_and_decreases():
    b, c, n = 7.0, 2.0, 30.0
    assert float(tango_statistic(b, c, n, 0.0)) == pytest.approx((b - c) / math.sqrt(b + c))
    grid = np.linspace(-0.99, 0.99, 199)
    T = tango_statistic(np.full_like(grid, b), np.full_like(grid, c), np.full_like(grid, n), grid)
    assert np.all(np.diff(T) < 0)  # one crossing per side: the interval is {|T| <= z}
    lo, hi = tango_limits(b, c, n, Z)
    assert abs(float(tango_statistic(b, c, n, lo)) - Z) < 1e-6 and abs(float(tango_statistic(b, c, n, hi)) + Z) < 1e-6


@pytest.mark.parametrize("table", [(5, 3, 1, 11), (0, 10, 0, 0), (20, 7, 2, 71), (1, 1, 7, 12), (0, 0, 0, 5), (0, 12, 0, 388), (3, 0, 0, 0)])
def test_one_epoch_contrast_is_tango_with_a_quarter_pair_continuity_correction(table):
    # one response per query and condition: the effective table is the 2x2 table (design effect exactly 1)
    S, M = paired_binary(*table)
    est = contrast(S, M, (1, -1))
    a, b, c, d = table
    n = sum(table)
    assert est.estimate == pytest.approx((b - c) / n, abs=1e-12)
    lo, hi = tango_limits(np.float64(b), np.float64(c), np.float64(n), Z, CONTINUITY)
    assert (est.ci_low, est.ci_high) == pytest.approx((float(lo), float(hi)), abs=1e-9)
    assert est.n_eff == pytest.approx((n, n))
    # the correction only widens Tango's own interval
    plain = tango_paired_ci(*table)
    assert est.ci_low <= plain[0] + 1e-12 and est.ci_high >= plain[1] - 1e-12
    assert -1.0 <= est.ci_low <= est.estimate <= est.ci_high <= 1.0


def test_swapping_the_conditions_mirrors_the_interval():
    S, M = paired_binary(5, 3, 1, 11)
    ab, ba = contrast(S, M, (1, -1)), contrast(S[:, ::-1], M, (1, -1))
    assert (ba.ci_low, ba.ci_high) == pytest.approx((-ab.ci_high, -ab.ci_low), abs=1e-12)
    assert ba.p_value == pytest.approx(ab.p_value, rel=1e-9)


# ---------------------------------------------------------------------------------------- degenerate data


@pytest.mark.parametrize("table", [(5, 0, 0, 5), (0, 0, 0, 10), (10, 0, 0, 0), (1, 0, 0, 0), (0, 0, 0, 1), (0, 1, 0, 0), (0, 0, 1, 0)])
def test_degenerate_tables_never_collapse(table):
    # all concordant, all 0, all 1, n = 1: a real interval (ten agreeing queries say the gap is small, not 0)
    est = contrast(*paired_binary(*table), (1, -1))
    assert est.ci_high - est.ci_low > 0.2
    assert -1.0 <= est.ci_low <= est.estimate <= est.ci_high <= 1.0
    assert 0 < est.p_value <= 1.0
    # p is 1 only where |b - c| is within the continuity correction (an estimate of exactly 0 here)
    assert (est.p_value == 1.0) == (est.estimate == 0.0)
    assert (est.ci_low > 0 or est.ci_high < 0) == (est.p_value < 0.05)


def test_all_concordant_ten_queries_gives_the_pairs_wilson_limits():
    est = contrast(*paired_binary(5, 0, 0, 5), (1, -1))
    assert est.ci_high >= Z**2 / (10 + Z**2) - 1e-9  # [-0.28, 0.28] (Tango's) or a little wider, not [0, 0]
    assert est.ci_high == pytest.approx(-est.ci_low) and est.ci_high < 0.35


def test_exact_level_of_the_one_epoch_test_at_a_true_gap_of_zero():
    # exact enumeration of every 2x2 table at n = 25 (rates 0.3, latent correlation 0.2): the suite's test
    # holds its level; Newcombe's method 10 (the MOVER with Wilson limits) read as a test does not
    n, p, rho = 25, 0.3, 0.2
    t = norm.ppf(p)
    p11 = multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]]).cdf([t, t])
    probs = [p11, p - p11, p - p11, 1 - 2 * p + p11]
    tables = [(a, b, c, n - a - b - c) for a in range(n + 1) for b in range(n + 1 - a) for c in range(n + 1 - a - b)]
    weights = multinomial.pmf(np.array(tables), n, probs)
    S = np.stack([paired_binary(*t)[0] for t in tables])
    r = contrast_arrays(S, np.ones_like(S), (1, -1))
    size = float(weights[r["p_value"] < 0.05].sum())
    uncorrected = [newcombe_paired_ci(*t) for t in tables]
    size_method_10 = float(sum(w for w, (lo, hi) in zip(weights, uncorrected) if lo > 0 or hi < 0))
    assert size <= 0.05 < size_method_10
    assert size > 0.03  # and is not needlessly conservative


# ------------------------------------------------------------------------------------------------ clusters


def test_identical_epochs_count_as_one_response_per_query():
    rng = np.random.default_rng(3)
    S1 = (rng.random((40, 2)) < [0.4, 0.15]).astype(float)
    one = contrast(S1, np.ones_like(S1), (1, -1))
    tripled = contrast(3 * S1, np.full_like(S1, 3.0), (1, -1))  # three epochs that always agree: deff about 3
    assert tripled.n_eff == pytest.approx((40, 40), rel=0.02)  # (119 vs 39 degrees of freedom: a little under 40)
    # the same statistic, read on t with G - 1 = 39 degrees of freedom (every response varies between queries)
    statistic = NormalDist().inv_cdf(1 - one.p_value / 2)
    assert tripled.p_value == pytest.approx(2 * student_t.sf(statistic, 39), rel=0.1)  # (n_eff a little under 40)
    assert tripled.p_value > one.p_value * 1.2
    assert one.ci_low - 0.02 < tripled.ci_low < one.ci_low and one.ci_high < tripled.ci_high < one.ci_high + 0.02
    # a rate of 0 over 3 epochs of 100 queries is read as 0 of 100, not 0 of 300 (no spread to estimate: normal)
    zero = rate(np.zeros(100), np.full(100, 3.0))
    assert zero.ci_high == pytest.approx(rate(np.zeros(100), np.ones(100)).ci_high)


def test_independent_epochs_add_information():
    rng = np.random.default_rng(5)
    responses = (rng.random((100, 3, 2)) < [0.3, 0.1]).astype(float)  # 100 queries x 3 independent epochs
    S = responses.sum(axis=1)
    m = moments(S, np.full_like(S, 3.0))
    assert np.all(m.n_eff > 150)  # about 300 responses, near-independent
    three = contrast(S, np.full_like(S, 3.0), (1, -1))
    first = contrast(responses[:, 0, :], np.ones_like(S), (1, -1))
    assert three.ci_high - three.ci_low < 0.75 * (first.ci_high - first.ci_low)


def test_unequal_graded_counts_use_every_graded_response():
    # query 2's B response is ungraded: A's rate uses all three A responses, B's its two
    S = np.array([[1, 0], [1, 0], [0, 0]], dtype=float)
    M = np.array([[1, 1], [1, 0], [1, 1]], dtype=float)
    est = contrast(S, M, (1, -1))
    assert est.rates == pytest.approx((2 / 3, 0.0)) and est.estimate == pytest.approx(2 / 3)


def test_difference_of_gaps():
    rng = np.random.default_rng(11)
    S = (rng.random((80, 4)) < [0.5, 0.1, 0.2, 0.1]).astype(float)
    est = contrast(S, np.ones_like(S), (1, -1, -1, 1))
    rates = S.mean(axis=0)
    assert est.estimate == pytest.approx(rates[0] - rates[1] - rates[2] + rates[3])
    assert est.ci_low < est.estimate < est.ci_high
    swapped = contrast(S[:, [2, 3, 0, 1]], np.ones_like(S), (1, -1, -1, 1))
    assert (swapped.ci_low, swapped.ci_high) == pytest.approx((-est.ci_high, -est.ci_low))
    # a difference of a gap with itself is exactly 0, p = 1
    same = contrast(S[:, [0, 1, 0, 1]], np.ones_like(S), (1, -1, -1, 1))
    assert same.estimate == 0 and same.p_value == 1.0


def test_empty_component_is_nan():
    S = np.array([[1.0, 0.0]])
    est = contrast(S, np.array([[1.0, 0.0]]), (1, -1))
    assert math.isnan(est.estimate) and math.isnan(est.p_value) and math.isnan(est.ci_low)
    assert math.isnan(rate(np.zeros(0), np.zeros(0)).estimate)


# ------------------------------------------------------------------------------------------------- flags


def test_cut_needs_the_test_and_a_tolerance():
    assert not above_cut(0.01, 1e-6)  # an exact 1-point gap is not above the cut
    assert not above_cut(0.1 - 0.09, 1e-6)  # 0.010000000000000009 in floating point
    assert above_cut(0.02, 0.01)
    assert not above_cut(0.2, 0.2)  # above the cut but not significant
    assert PAPER_CUT == 0.01


def test_minimum_detectable_gap_depends_on_n_and_flags_do_not_contradict():
    small = contrast(*paired_binary(0, 1, 0, 24), (1, -1))
    large = contrast(*paired_binary(0, 10, 0, 2390), (1, -1))
    assert small.mdg > large.mdg > 0
    assert underpowered(small.estimate, small.p_value, small.mdg)
    sig = contrast(*paired_binary(0, 30, 0, 70), (1, -1))
    assert sig.significant and not underpowered(sig.estimate, sig.p_value, sig.mdg)


def test_holm():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.5, math.nan, 0.01])
    assert adjusted[0] == pytest.approx(0.5) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


def test_binomial_sigma():
    assert binomial_sigma(0.5, 100) == pytest.approx(0.05)
    assert math.isnan(binomial_sigma(0.3, 0))


def test_population_of_paraphrases_option():
    rng = np.random.default_rng(9)
    S = (rng.random((30, 4, 2)) < [0.5, 0.1]).astype(float)  # 30 queries x 4 paraphrases x 2 conditions
    M = np.ones_like(S)
    pop = population_arrays(S, M, (1, -1))
    fixed = contrast(S.sum(axis=1), M.sum(axis=1), (1, -1))
    assert float(pop["estimate"]) == pytest.approx(fixed.estimate)  # balanced: the same point estimate
    assert pop["ci_low"] <= fixed.ci_low and pop["ci_high"] >= fixed.ci_high  # never narrower
    assert (float(pop["ci_low"]) > 0 or float(pop["ci_high"]) < 0) == (float(pop["p_value"]) < 0.05)
    # identical paraphrases and identical queries: still a real interval, not zero width
    same = population_arrays(np.tile([[1.0, 0.0]], (5, 3, 1)), np.ones((5, 3, 2)), (1, -1))
    assert float(same["ci_high"]) - float(same["ci_low"]) > 0.1 and float(same["p_value"]) > 0
    assert np.isnan(population_arrays(S[:, :1], M[:, :1], (1, -1))["estimate"])  # one paraphrase: no population claim


# ----------------------------------------------------------------------------------- the hard regimes (issue 20)


def _latent(rng, reps, n, rates, epochs, rho):
    """Per-query sums (reps, n, K) of ``epochs`` responses per condition sharing a query effect (latent corr rho)."""
    u = rng.standard_normal((reps, n, 1, 1))
    e = rng.standard_normal((reps, n, len(rates), epochs))
    S = (np.sqrt(rho) * u + np.sqrt(1 - rho) * e < norm.ppf(rates)[:, None]).sum(axis=-1).astype(float)
    return S, np.full_like(S, float(epochs))


def test_one_positive_in_250_is_not_read_as_250_independent_responses():
    S = np.r_[1.0, np.zeros(49)]
    one = rate(S, np.full(50, 5.0))
    assert one.n_eff[0] < 0.6 * 250  # the design effect cannot collapse to 1 on one positive
    assert one.ci_high > 0.035  # (it was 0.026 with deff 1)
    many = rate(np.r_[5.0, np.zeros(49)], np.full(50, 5.0))  # the same query's five epochs all positive
    assert many.ci_high > one.ci_high


def test_near_identical_conditions_cover():
    # one epoch, rates 0.55 / 0.50, latent correlation 0.95, n = 15: the MOVER covered 0.86 here
    rng = np.random.default_rng(20)
    S, M = _latent(rng, 1500, 15, np.array([0.55, 0.50]), 1, 0.95)
    r = contrast_arrays(S, M, (1, -1))
    truth = 0.05
    assert np.mean((r["ci_low"] <= truth) & (truth <= r["ci_high"])) >= 0.94
    assert np.all(r["ci_high"] - r["ci_low"] > 0)


def test_few_queries_with_several_epochs_hold_the_level():
    # ten queries x five epochs at a true gap of 0: the test without the small-sample factor rejected 6.1%
    rng = np.random.default_rng(21)
    S, M = _latent(rng, 3000, 10, np.array([0.3, 0.3]), 5, 0.4)
    r = contrast_arrays(S, M, (1, -1))
    level = np.mean(r["p_value"] < 0.05)
    assert level <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 3000)
    assert level > 0.005  # and is not a test that never rejects


def test_rare_outcome_with_near_identical_epochs_covers():
    # 50 queries x 5 epochs, rate 0.05, latent correlation 0.9 between a query's epochs: it covered 0.924
    rng = np.random.default_rng(22)
    S, M = _latent(rng, 4000, 50, np.array([0.05]), 5, 0.9)
    rr = rate_arrays(S, M)
    covered = float(np.mean((rr["ci_low"][..., 0] <= 0.05) & (0.05 <= rr["ci_high"][..., 0])))
    assert covered >= 0.94 - 2 * math.sqrt(0.94 * 0.06 / 4000)


def test_cluster_degrees_of_freedom_are_satterthwaites():
    assert cluster_df(1.0, 10.0, 3.0) == pytest.approx(2.0)  # the whole variance from 3 queries: G - 1
    assert cluster_df(0.5, 10.0, 5.0) == pytest.approx(16.0)  # half of it fixed: (G - 1) / 0.5^2
    assert np.isinf(cluster_df(1.0, 1.0, 40.0))  # one response per query and condition: the normal, unchanged
    assert np.isinf(cluster_df(0.0, 10.0, 5.0))  # nothing estimated from the queries' spread
    assert z_of(0.95) == t_quantile(0.95, np.inf)  # exactly the normal quantile where df is inf
    # one positive in 250 responses: the design effect is mostly its prior part, so df is far above G - 1 = 49
    m = moments(np.r_[1.0, np.zeros(49)][:, None], np.full((50, 1), 5.0))
    assert 49 * 4 < m.df[0] < np.inf
    # identical epochs of 40 queries: all from the queries' spread, so G - 1 (or a little more)
    S = (np.random.default_rng(3).random((40, 2)) < [0.4, 0.15]).astype(float)
    assert 39 <= moments(3 * S, np.full_like(S, 3.0)).df[0] < 45


def test_three_queries_with_several_epochs_hold_the_level(monkeypatch):
    # three queries x five epochs at a true gap of 0: with the normal quantile the test rejected 6.5%
    S, M = _latent(np.random.default_rng(23), 4000, 3, np.array([0.3, 0.3]), 5, 0.1)
    r = contrast_arrays(S, M, (1, -1))
    level = np.mean(r["p_value"] < 0.05)
    assert 0.01 < level <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 4000)
    assert np.array_equal(r["p_value"] < 0.05, (r["ci_low"] > 0) | (r["ci_high"] < 0))  # interval and p agree
    assert np.all((r["ci_low"] >= -1) & (r["ci_high"] <= 1) & (r["ci_high"] > r["ci_low"]))
    rates = rate_arrays(S, M)
    assert np.all((rates["ci_low"] >= 0) & (rates["ci_high"] <= 1) & (rates["ci_high"] > rates["ci_low"]))
    monkeypatch.setattr(stats, "cluster_df", lambda deff, m, G: np.full(np.shape(deff), np.inf))
    normal = np.mean(contrast_arrays(S, M, (1, -1))["p_value"] < 0.05)
    assert normal > 0.06  # the same data read with the normal quantile


def _coverage_benchmark():
    spec = importlib.util.spec_from_file_location("coverage_benchmark", Path(__file__).resolve().parents[1] / "benchmarks" / "coverage.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("epochs,rho,het", [(5, 0.1, 0.0), (10, 0.2, 0.5)])  # (het: the gap varies by query around 0)
def test_coverage_benchmark_fails_a_target_missed_beyond_its_monte_carlo_error(monkeypatch, epochs, rho, het):
    cov = _coverage_benchmark()
    cell = cov.Cell("few_clusters", (0.3, 0.3), (1.0, -1.0), 3, epochs, rho, het=het)
    held = {"truth": 0.0, "coverage": 0.95, "rate_coverage": 0.95, "reject": 0.04, "disagree": 0, "zero_width": 0, "out_of_range": 0}
    assert cov.misses_of(cell, held, 2000) == []
    assert cov.misses_of(cell, held | {"reject": 0.055}, 2000) == []  # within two standard errors (0.0049)
    assert cov.misses_of(cell, held | {"reject": 0.055}, 20000)  # beyond them (0.0015)
    assert cov.misses_of(cell, held | {"coverage": 0.93}, 20000)
    assert cov.misses_of(cell, held | {"zero_width": 1}, 2000)
    r = cov.run_cell(cell, 20000, np.random.default_rng(1))
    assert cov.misses_of(cell, r, 20000) == [] and r["reject"] > 0.01
    monkeypatch.setattr(stats, "cluster_df", lambda share, m, G: np.full(np.shape(share), np.inf))
    normal = cov.run_cell(cell, 20000, np.random.default_rng(1))
    assert cov.misses_of(cell, normal, 20000)  # the normal quantile rejects too often here, and the benchmark says so


def test_minimum_detectable_gap_reads_the_same_t():
    S, M = _latent(np.random.default_rng(24), 1, 5, np.array([0.4, 0.2]), 10, 0.4)
    m = moments(S[0], M[0])
    assert np.all(np.isfinite(m.df)) and np.all(m.df < 100)
    normal = dataclasses.replace(m, df=np.full_like(m.df, np.inf))
    assert stats.minimum_detectable(m, (1, -1)) > 1.05 * stats.minimum_detectable(normal, (1, -1))
    one = moments(S[0] > 0, np.ones_like(M[0]))  # one response per query and condition: the normal
    assert np.all(np.isinf(one.df))
