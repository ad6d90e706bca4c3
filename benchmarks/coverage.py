"""Coverage benchmark: the suite's own intervals and tests on simulated data with known truth.

Run from the repository root (with the package installed)::

    python benchmarks/coverage.py --quick     # the hard cells only, 2000 datasets per cell
    python benchmarks/coverage.py             # every cell below, 4000 datasets per cell

It simulates paired binary outcomes (compliant or not) for n queries under K conditions, with known rates,
and calls ``alignment_faking.scorers.stats.contrast_arrays``, ``rate_arrays`` and ``population_arrays`` --
the functions behind every contrast and rate the metric reports -- on whole batches of simulated datasets.
Responses of one query are correlated through a latent normal model: response = 1{sqrt(rho) u_query +
sqrt(tau) v_query,paraphrase + sqrt(1 - rho - tau) e < Phi^-1(p)}, so each response's marginal rate is
exactly p while responses of one query (across conditions, epochs and paraphrases) share u with latent
correlation rho.

Designs: a gap A - B with 1 or 3 epochs; near-identical conditions (one epoch, rho 0.8-0.95, n = 15, 20);
few queries with several responses each (10-20 queries x 3-5 epochs x 1-3 paraphrases); few clusters (3-8
queries x 3-10 epochs, or 3 epochs x 2 paraphrases, rho 0.1 and 0.4, and "+het": a gap that varies by query,
each query's probit thresholds shifted by het * w, w ~ N(0, 1), the minuend's up and the others' down, so the
rates are Phi(t / sqrt(1 + het^2)) and the gap averages 0 at equal rates); rates near 0 with
near-identical epochs (rho 0.9, 5 epochs); grading that fails only on compliant responses (a share of the
responses with outcome 1 is ungraded: the interval is for the graded-response estimand, and the coverage
of the true, all-response gap is printed as information, "true"); a paraphrase ensemble (4 paraphrases)
with and without a paraphrase effect; 4 paraphrases drawn afresh for every dataset, checking
``population_arrays`` against the mean over the population of paraphrases; a difference of gaps.

Printed per cell: coverage of the 95% interval of the contrast, the lowest coverage of the per-condition
rate intervals, the share of datasets where the test rejects (p < 0.05; at a true gap of 0 the false-positive
rate), the share flagged "above the paper's 1-point cut", the number of datasets where the interval and the
p-value disagree, or an interval (the contrast's or a rate's) has zero width or leaves its range (each must
be 0), and, for gaps, the mean width over the mean width of Tango's (1998) interval (one epoch) and of a
cluster-robust Wald interval with the G/(G-1) factor and a t quantile on G - 1 degrees of freedom, with
those intervals' coverage. Targets:
every coverage >= 0.94, rejection at true 0 <= 0.05. Exit status 1 if a target is missed beyond the cell's
own Monte Carlo error (the observed value is more than two of its standard errors on the wrong side), or
if any interval disagrees with its p, has zero width or leaves its range.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from scipy.special import ndtr
from scipy.stats import t as student_t

from alignment_faking.scorers.stats import LEVEL, PAPER_CUT, TOLERANCE, contrast_arrays, population_arrays, rate_arrays, tango_limits, z_of

TARGET_COVERAGE = 0.94
TARGET_LEVEL = 1.0 - LEVEL
CHUNK = 3_000_000  # simulated responses per batch (memory)


@dataclass(frozen=True)
class Cell:
    design: str  # "gap", "paraphrase", "paraphrase+effect", "diff_of_gaps"
    rates: tuple[float, ...]  # per condition (before paraphrase shifts)
    coef: tuple[float, ...]
    n: int
    epochs: int
    rho: float
    paraphrases: int = 1
    tau: float = 0.0
    effect: float = 0.0  # probit shift of the extreme paraphrases (minuend up, others down)
    ungraded: float = 0.0  # probability that a response with outcome 1 is not graded (left out of its rate)
    het: float = 0.0  # sd of a per-query probit shift, minuend up and others down: the gap varies by query


def thresholds(cell: Cell) -> np.ndarray:
    """Probit thresholds per condition and paraphrase, shape (K, P)."""
    base = ndtri(np.asarray(cell.rates, dtype=float))[:, None]  # -inf for a rate of 0
    shifts = np.linspace(-1.0, 1.0, cell.paraphrases) * cell.effect if cell.paraphrases > 1 else np.zeros(1)
    # the minuend's rates move up with the paraphrase, the others' down: the gap differs by paraphrase, and
    # with equal base rates it averages exactly 0 over the (symmetric) paraphrases used
    scale = np.where(np.arange(len(cell.rates)) == 0, 1.0, -1.0)[:, None]
    return base + scale * shifts[None, :]


def truth(cell: Cell) -> tuple[float, np.ndarray, float]:
    """The estimand (the contrast of the graded-response rates averaged over the paraphrases used), the
    true graded-response rates, and the contrast over all responses (ungraded ones included)."""
    per_paraphrase = ndtr(thresholds(cell) / math.sqrt(1.0 + cell.het**2))  # E_w Phi(t + het w), w ~ N(0, 1)
    graded = per_paraphrase * (1 - cell.ungraded) / (per_paraphrase * (1 - cell.ungraded) + 1 - per_paraphrase)
    rates = graded.mean(axis=1)
    return float(np.dot(cell.coef, rates)), rates, float(np.dot(cell.coef, per_paraphrase.mean(axis=1)))


def simulate(cell: Cell, reps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``reps`` datasets: per-query sums S and counts M, shape (reps, n, K)."""
    K, P, E = len(cell.rates), cell.paraphrases, cell.epochs
    thr = thresholds(cell)[None, None, :, :, None]  # (1, 1, K, P, 1)
    if cell.het > 0:
        sign = np.where(np.arange(K) == 0, 1.0, -1.0)[None, None, :, None, None]
        thr = thr + sign * cell.het * rng.standard_normal((reps, cell.n, 1, 1, 1))
    u = rng.standard_normal((reps, cell.n, 1, 1, 1))
    v = rng.standard_normal((reps, cell.n, 1, P, 1)) if cell.tau > 0 else 0.0
    e = rng.standard_normal((reps, cell.n, K, P, E))
    latent = math.sqrt(cell.rho) * u + math.sqrt(cell.tau) * v + math.sqrt(1.0 - cell.rho - cell.tau) * e
    y = latent < thr
    if cell.ungraded > 0:
        graded = ~(y & (rng.random(y.shape) < cell.ungraded))
        return (y & graded).sum(axis=(3, 4)).astype(float), graded.sum(axis=(3, 4)).astype(float)
    S = y.sum(axis=(3, 4)).astype(float)
    return S, np.full_like(S, float(P * E))


def reference_intervals(S: np.ndarray, M: np.ndarray, cell: Cell) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The intervals the suite's width is compared with: Tango's (1998) score interval on the 2x2 table (one
    response per query and condition only) and a cluster-robust Wald interval (by query, G/(G-1) factor,
    t quantile on G - 1 degrees of freedom; Cameron & Miller 2015)."""
    c = np.asarray(cell.coef, dtype=float)
    N = M.sum(axis=-2)
    p = S.sum(axis=-2) / N
    theta = p @ c
    r = np.einsum("...gk,k->...g", (S - p[..., None, :] * M) / N[..., None, :], c)
    G = S.shape[-2]
    half = student_t.ppf((1 + LEVEL) / 2, G - 1) * np.sqrt((r**2).sum(axis=-1) * G / (G - 1))
    out = {"crt": (theta - half, theta + half)}
    if cell.epochs == 1 and cell.paraphrases == 1 and len(c) == 2 and cell.ungraded == 0:
        d = S[..., 0] - S[..., 1]
        b, cc = (d > 0).sum(axis=-1).astype(float), (d < 0).sum(axis=-1).astype(float)
        out["tango"] = tango_limits(b, cc, np.full(b.shape, float(G)), z_of(LEVEL))
    return out


def simulate_population(cell: Cell, reps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Datasets whose P paraphrases are a fresh random draw each time (probit shift ~ N(0, effect^2), the
    minuend's up and the others' down): per-query, per-paraphrase sums, shape (reps, n, P, K)."""
    K, P, E = len(cell.rates), cell.paraphrases, cell.epochs
    base = ndtri(np.asarray(cell.rates, dtype=float))
    sign = np.where(np.arange(K) == 0, 1.0, -1.0)
    shift = rng.standard_normal((reps, 1, 1, P, 1)) * cell.effect
    thr = base[None, None, :, None, None] + sign[None, None, :, None, None] * shift  # (reps, 1, K, P, 1)
    u = rng.standard_normal((reps, cell.n, 1, 1, 1))
    v = rng.standard_normal((reps, cell.n, 1, P, 1))
    e = rng.standard_normal((reps, cell.n, K, P, E))
    latent = math.sqrt(cell.rho) * u + math.sqrt(cell.tau) * v + math.sqrt(1.0 - cell.rho - cell.tau) * e
    S = (latent < thr).sum(axis=4).astype(float).transpose(0, 1, 3, 2)
    return S, np.full_like(S, float(E))


def population_truth(cell: Cell) -> tuple[float, np.ndarray]:
    """E over paraphrases of the contrast: E[Phi(t + s delta)] = Phi(t / sqrt(1 + effect^2))."""
    rates = ndtr(ndtri(np.asarray(cell.rates, dtype=float)) / math.sqrt(1.0 + cell.effect**2))
    return float(np.dot(cell.coef, rates)), rates


def _covers(lo: np.ndarray, hi: np.ndarray, target: float | np.ndarray) -> np.ndarray:
    return (lo <= target + 1e-12) & (target - 1e-12 <= hi)


def _checks(r: dict[str, np.ndarray], coef: tuple[float, ...]) -> dict[str, int]:
    """Counts of datasets whose interval disagrees with its p, has zero width, or leaves the range."""
    significant = r["p_value"] < TARGET_LEVEL
    excludes = (r["ci_low"] > 0) | (r["ci_high"] < 0)
    low, high = sum(min(x, 0.0) for x in coef), sum(max(x, 0.0) for x in coef)
    return {
        "disagree": int(np.sum(significant != excludes)),
        # (NaN, no graded response in a condition, is not an interval: it counts as not covering)
        "zero_width": int(np.sum(r["ci_high"] - r["ci_low"] <= 0)),
        "out_of_range": int(np.sum((r["ci_low"] < low - 1e-12) | (r["ci_high"] > high + 1e-12))),
    }


def run_cell(cell: Cell, reps: int, rng: np.random.Generator) -> dict[str, float]:
    if cell.design.startswith("population"):
        return run_population_cell(cell, reps, rng)
    target, true_rates, all_responses = truth(cell)
    per_rep = cell.n * len(cell.rates) * cell.paraphrases * cell.epochs
    step = max(1, CHUNK // per_rep)
    tally: dict[str, float] = {}
    done = 0

    def add(key: str, value: float | np.ndarray) -> None:
        tally[key] = tally.get(key, 0.0) + value  # type: ignore[assignment]

    while done < reps:
        batch = min(step, reps - done)
        S, M = simulate(cell, batch, rng)
        r = contrast_arrays(S, M, cell.coef)
        significant = r["p_value"] < TARGET_LEVEL
        add("coverage", np.sum(_covers(r["ci_low"], r["ci_high"], target)))
        add("true_coverage", np.sum(_covers(r["ci_low"], r["ci_high"], all_responses)))
        add("reject", significant.sum())
        add("above_cut", np.sum(significant & (r["estimate"] > PAPER_CUT + TOLERANCE)))
        for key, value in _checks(r, cell.coef).items():
            add(key, value)
        add("width", np.sum(r["ci_high"] - r["ci_low"]))
        if len(cell.coef) == 2:
            for name, (lo, hi) in reference_intervals(S, M, cell).items():
                add(f"{name}_width", np.sum(hi - lo))
                add(f"{name}_coverage", np.sum(_covers(lo, hi, target)))
                add(f"{name}_zero_width", np.sum(~(hi - lo > 0)))
        rr = rate_arrays(S, M)
        add("rate_coverage", np.sum(_covers(rr["ci_low"], rr["ci_high"], true_rates), axis=0))
        add("zero_width", np.sum(rr["ci_high"] - rr["ci_low"] <= 0))
        add("out_of_range", np.sum((rr["ci_low"] < -1e-12) | (rr["ci_high"] > 1 + 1e-12)))
        done += batch
    out = {k: float(np.min(v)) / reps for k, v in tally.items()}
    for key in ("disagree", "zero_width", "out_of_range"):
        out[key] = int(tally[key])
    for name in ("tango", "crt"):
        if f"{name}_width" in tally:
            out[f"{name}_ratio"] = float(tally["width"] / tally[f"{name}_width"])
    return out | {"truth": target, "all_responses": all_responses}


def run_population_cell(cell: Cell, reps: int, rng: np.random.Generator) -> dict[str, float]:
    target, _ = population_truth(cell)
    S, M = simulate_population(cell, reps, rng)
    r = population_arrays(S, M, cell.coef)
    significant = r["p_value"] < TARGET_LEVEL
    return {
        "truth": target,
        "all_responses": target,
        "coverage": float(np.mean(_covers(r["ci_low"], r["ci_high"], target))),
        "rate_coverage": float("nan"),
        "reject": float(significant.mean()),
        "above_cut": float(np.mean(significant & (r["estimate"] > PAPER_CUT + TOLERANCE))),
        "width": float(np.mean(r["ci_high"] - r["ci_low"])),
    } | _checks(r, cell.coef)


def hard_cells(quick: bool) -> list[Cell]:
    """The regimes real models produce (issue 20): near-identical conditions, few queries with several
    responses each, rates near 0 with near-identical epochs, grading that fails only on outcome 1."""
    pick = 0 if quick else 1
    gap = (1.0, -1.0)
    out = [
        Cell("near_identical", (0.55, 0.50), gap, n, 1, rho)
        for rho in ((0.95,), (0.8, 0.9, 0.95))[pick]
        for n in ((15,), (15, 20))[pick]
    ]
    designs = ([(10, 5, 1), (15, 3, 2)], [(n, e, p) for n in (10, 15, 20) for e in (3, 5) for p in (1, 2, 3)])[pick]
    for n, epochs, paraphrases in designs:
        tau = 0.2 if paraphrases > 1 else 0.0
        out.append(Cell("few_queries", (0.3, 0.3), gap, n, epochs, 0.4, paraphrases=paraphrases, tau=tau))
        if pick and epochs == 3:
            out.append(Cell("few_queries", (0.4, 0.2), gap, n, epochs, 0.4, paraphrases=paraphrases, tau=tau))
    out += few_clusters(quick)
    sparse = ([(0.05, 0.05), (0.05, 0.0)], [(0.05, 0.05), (0.05, 0.0), (0.02, 0.02), (0.1, 0.02)])[pick]
    out += [Cell("sparse_epochs", rates, gap, n, 5, 0.9) for rates in sparse for n in ((50,), (50, 100))[pick]]
    ungraded = ([(0.3, 0.15)], [(0.3, 0.15), (0.5, 0.5), (0.8, 0.6)])[pick]
    out += [Cell("ungraded_if_1", rates, gap, n, 3, 0.5, ungraded=0.3) for rates in ungraded for n in ((50,), (50, 200))[pick]]
    return out


def few_clusters(quick: bool) -> list[Cell]:
    """3-8 queries with several responses each (10 epochs; 5 epochs; 3 epochs x 2 paraphrases), where the
    cluster variance rests on G - 1 degrees of freedom: at a true gap of 0 (latent correlation 0.4, and 0.1), a
    gap that varies by query around a mean of 0 (probit shift sd 0.5, rho 0.2: the normal quantile rejected
    6.7% with 3 queries x 10 epochs) and a gap of 0.2."""
    gap = (1.0, -1.0)
    if quick:
        return [Cell("few_clusters", (0.3, 0.3), gap, 3, 5, 0.1), Cell("few_clusters+het", (0.3, 0.3), gap, 3, 10, 0.2, het=0.5)]
    out = []
    for n in (3, 4, 5, 6, 8):
        out.append(Cell("few_clusters", (0.3, 0.3), gap, n, 5, 0.1))
        for epochs, paraphrases in ((10, 1), (5, 1), (3, 2)):
            tau = 0.2 if paraphrases > 1 else 0.0
            out.append(Cell("few_clusters", (0.3, 0.3), gap, n, epochs, 0.4, paraphrases=paraphrases, tau=tau))
            out.append(Cell("few_clusters+het", (0.3, 0.3), gap, n, epochs, 0.2, paraphrases=paraphrases, tau=tau, het=0.5))
        out.append(Cell("few_clusters", (0.4, 0.2), gap, n, 5, 0.4))
    return out


def cells(quick: bool) -> list[Cell]:
    out = hard_cells(quick)
    if quick:
        return out
    ns = (25, 50, 100, 200, 400)
    rhos = (0.2, 0.7)
    gaps = [(0.03, 0.0), (0.14, 0.03), (0.60, 0.10), (0.01, 0.01), (0.05, 0.05), (0.30, 0.30)]
    for rates in gaps:
        for epochs in (1, 3):
            for rho in rhos:
                for n in ns:
                    out.append(Cell("gap", rates, (1.0, -1.0), n, epochs, rho))
    for rates in [(0.14, 0.03), (0.60, 0.10), (0.05, 0.05)]:
        for effect in (0.0, 0.3):
            for n in ns:
                design = "paraphrase+effect" if effect else "paraphrase"
                out.append(Cell(design, rates, (1.0, -1.0), n, 1, 0.4, paraphrases=4, tau=0.2, effect=effect))
    for rates in [(0.14, 0.03), (0.60, 0.10), (0.05, 0.05)]:
        for effect in (0.0, 0.3):
            for n in ns:
                design = "population+effect" if effect else "population"
                out.append(Cell(design, rates, (1.0, -1.0), n, 1, 0.4, paraphrases=4, tau=0.2, effect=effect))
    for n in (10, 25):  # two paraphrases: the t quantile on 1 degree of freedom, clipped to the range
        out.append(Cell("population", (0.14, 0.03), (1.0, -1.0), n, 1, 0.4, paraphrases=2, tau=0.2))
    for rates in [(0.14, 0.03, 0.05, 0.03), (0.60, 0.10, 0.30, 0.10), (0.14, 0.03, 0.14, 0.03), (0.03, 0.0, 0.0, 0.0)]:
        for epochs in (1, 3):
            for n in ns:
                out.append(Cell("diff_of_gaps", rates, (1.0, -1.0, -1.0, 1.0), n, epochs, 0.5))
    return out


def _se(p: float, reps: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / reps)


def misses_of(cell: Cell, r: dict[str, float], reps: int) -> list[str]:
    """Targets missed beyond the cell's own Monte Carlo error (two standard errors of the observed value)."""
    out = []
    for key in ("coverage", "rate_coverage"):
        value = r.get(key, float("nan"))
        if not math.isnan(value) and value + 2 * _se(value, reps) < TARGET_COVERAGE:
            out.append(f"{cell}: {key} {value:.3f}")
    if abs(r["truth"]) < 1e-12 and r["reject"] - 2 * _se(r["reject"], reps) > TARGET_LEVEL:
        out.append(f"{cell}: rejects {r['reject']:.3f} at a true gap of 0")
    for key in ("disagree", "zero_width", "out_of_range"):
        if r[key]:
            out.append(f"{cell}: {key} in {r[key]} datasets")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the hard cells only, 2000 datasets per cell")
    parser.add_argument("--reps", type=int, default=None, help="simulated datasets per cell (default 4000; 2000 with --quick)")
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args(argv)
    reps = args.reps or (2000 if args.quick else 4000)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    header = (
        f"{'design':<18} {'rates':<20} {'n':>4} {'ep':>2} {'P':>1} {'rho':>4} {'truth':>6} {'cover':>6} {'true':>6} {'rates':>6} "
        f"{'reject':>6} {'>cut':>6} {'width':>6} {'/tango':>6} {'/crt':>6} {'bad':>3}"
    )
    print(
        f"{reps} simulated datasets per cell; nominal {LEVEL:.0%}; targets: coverage >= {TARGET_COVERAGE}, rejection at true 0 <= "
        f"{TARGET_LEVEL:.2f}; Monte Carlo standard error {_se(0.95, reps):.4f} at 0.95, {_se(0.05, reps):.4f} at 0.05"
    )
    print("(true: coverage of the all-response gap where responses go ungraded; /tango, /crt: mean width over theirs, * where theirs covers < 0.94 or has a zero-width interval)")
    print(header)
    misses: list[str] = []
    worst_cover, worst_fp, ratios = 1.0, 0.0, []
    for cell in cells(args.quick):
        r = run_cell(cell, reps, rng)
        missed = misses_of(cell, r, reps)
        misses += missed
        worst_cover = min(worst_cover, r["coverage"], np.nan_to_num(r.get("rate_coverage", np.nan), nan=1.0))
        if abs(r["truth"]) < 1e-12:
            worst_fp = max(worst_fp, r["reject"])
        shown = []
        for name in ("tango", "crt"):
            ratio = r.get(f"{name}_ratio", float("nan"))
            # a reference counts where it covers and never has zero width (a [0, 0] "covers" a true 0)
            covers = r.get(f"{name}_coverage", 0.0) >= TARGET_COVERAGE and r.get(f"{name}_zero_width", 1.0) == 0
            shown.append(f"{ratio:>5.2f}{' ' if covers else '*'}" if not math.isnan(ratio) else f"{'—':>6}")
            if covers and not math.isnan(ratio):
                ratios.append((ratio, name, cell))
        rates = "/".join(f"{x:g}" for x in cell.rates)
        bad = r["disagree"] + r["zero_width"] + r["out_of_range"]
        print(
            f"{cell.design:<18} {rates:<20} {cell.n:>4} {cell.epochs:>2} {cell.paraphrases:>1} {cell.rho:>4} {r['truth']:>6.3f} "
            f"{r['coverage']:>6.3f} {r.get('true_coverage', r['coverage']):>6.3f} {r.get('rate_coverage', float('nan')):>6.3f} "
            f"{r['reject']:>6.3f} {r['above_cut']:>6.3f} {r['width']:>6.3f} {shown[0]} {shown[1]} {bad:>3}{' MISS' if missed else ''}",
            flush=True,
        )
    widest = max(ratios, key=lambda x: x[0]) if ratios else (float("nan"), "", None)
    print(
        f"\nlowest coverage {worst_cover:.3f}; highest rejection at a true gap of 0 {worst_fp:.3f}; "
        f"largest width ratio to a covering reference {widest[0]:.2f} ({widest[1]}, {widest[2]}); {time.perf_counter() - start:.0f} s"
    )
    for miss in misses:
        print("MISS", miss)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
