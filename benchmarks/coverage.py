"""Coverage benchmark: the suite's own intervals and tests on simulated data with known truth.

Run from the repository root (with the package installed)::

    python benchmarks/coverage.py --quick     # ~10 s: n = 25, 100, 400; 500 datasets per cell
    python benchmarks/coverage.py             # every cell below, 4000 datasets per cell (about 2 minutes)

It simulates paired binary outcomes (compliant or not) for n queries under K conditions, with known rates,
and calls ``alignment_faking.scorers.stats.contrast_arrays`` and ``rate_arrays`` -- the functions behind
every contrast and rate the metric reports -- on whole batches of simulated datasets. Responses of one query
are correlated through a latent normal model: response = 1{sqrt(rho) u_query + sqrt(tau) v_query,paraphrase
+ sqrt(1 - rho - tau) e < Phi^-1(p)}, so each response's marginal rate is exactly p while responses of one
query (across conditions, epochs and paraphrases) share u with latent correlation rho.

Designs: a gap A - B with 1 or 3 epochs; a paraphrase ensemble (4 paraphrases, responses clustered by query
and paraphrase) with and without a paraphrase effect (rates that differ by paraphrase: the estimand is the
gap averaged over the paraphrases used); the same with 4 paraphrases drawn afresh for every dataset, checking
``population_arrays`` against the mean over the population of paraphrases; a difference of gaps
(A - B) - (C - D) with 1 or 3 epochs.

Printed per cell: coverage of the 95% interval of the contrast, the lowest coverage of the per-condition
rate intervals, the share of datasets where the test rejects (p < 0.05; at a true gap of 0 the false-positive
rate), the share flagged "above the paper's 1-point cut" (gap > 1 point AND p < 0.05; a false positive at
true 0), and the number of datasets where the interval and the p-value disagree (must be 0). Targets: every
coverage >= 0.94, rejection at true 0 <= 0.05. Exit status 1 if a target is missed by more than the Monte
Carlo error (two standard errors), so that a cell exactly at the target does not fail by chance.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from alignment_faking.scorers.stats import LEVEL, PAPER_CUT, TOLERANCE, contrast_arrays, population_arrays, rate_arrays

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


def thresholds(cell: Cell) -> np.ndarray:
    """Probit thresholds per condition and paraphrase, shape (K, P)."""
    base = ndtri(np.asarray(cell.rates, dtype=float))[:, None]  # -inf for a rate of 0
    shifts = np.linspace(-1.0, 1.0, cell.paraphrases) * cell.effect if cell.paraphrases > 1 else np.zeros(1)
    # the minuend's rates move up with the paraphrase, the others' down: the gap differs by paraphrase, and
    # with equal base rates it averages exactly 0 over the (symmetric) paraphrases used
    scale = np.where(np.arange(len(cell.rates)) == 0, 1.0, -1.0)[:, None]
    return base + scale * shifts[None, :]


def truth(cell: Cell) -> tuple[float, np.ndarray]:
    """The estimand (the contrast of the rates averaged over the paraphrases used) and the true rates."""
    from scipy.special import ndtr

    rates = ndtr(thresholds(cell)).mean(axis=1)
    return float(np.dot(cell.coef, rates)), rates


def simulate(cell: Cell, reps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``reps`` datasets: per-query sums S and counts M, shape (reps, n, K)."""
    K, P, E = len(cell.rates), cell.paraphrases, cell.epochs
    thr = thresholds(cell)[None, None, :, :, None]  # (1, 1, K, P, 1)
    u = rng.standard_normal((reps, cell.n, 1, 1, 1))
    v = rng.standard_normal((reps, cell.n, 1, P, 1)) if cell.tau > 0 else 0.0
    e = rng.standard_normal((reps, cell.n, K, P, E))
    latent = math.sqrt(cell.rho) * u + math.sqrt(cell.tau) * v + math.sqrt(1.0 - cell.rho - cell.tau) * e
    S = (latent < thr).sum(axis=(3, 4)).astype(float)
    return S, np.full_like(S, float(P * E))


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
    from scipy.special import ndtr

    rates = ndtr(ndtri(np.asarray(cell.rates, dtype=float)) / math.sqrt(1.0 + cell.effect**2))
    return float(np.dot(cell.coef, rates)), rates


def run_cell(cell: Cell, reps: int, rng: np.random.Generator) -> dict[str, float]:
    if cell.design.startswith("population"):
        return run_population_cell(cell, reps, rng)
    target, true_rates = truth(cell)
    per_rep = cell.n * len(cell.rates) * cell.paraphrases * cell.epochs
    step = max(1, CHUNK // per_rep)
    covered = rejected = above = disagree = 0
    rate_covered = np.zeros(len(cell.rates))
    done = 0
    while done < reps:
        batch = min(step, reps - done)
        S, M = simulate(cell, batch, rng)
        r = contrast_arrays(S, M, cell.coef)
        covered += int(np.sum((r["ci_low"] <= target + 1e-12) & (target - 1e-12 <= r["ci_high"])))
        significant = r["p_value"] < TARGET_LEVEL
        excludes = (r["ci_low"] > 0) | (r["ci_high"] < 0)
        rejected += int(significant.sum())
        above += int(np.sum(significant & (r["estimate"] > PAPER_CUT + TOLERANCE)))
        disagree += int(np.sum(significant != excludes))
        rr = rate_arrays(S, M)
        rate_covered += np.sum((rr["ci_low"] <= true_rates + 1e-12) & (true_rates - 1e-12 <= rr["ci_high"]), axis=0)
        done += batch
    return {
        "truth": target,
        "coverage": covered / reps,
        "rate_coverage": float(rate_covered.min() / reps),
        "reject": rejected / reps,
        "above_cut": above / reps,
        "disagree": disagree,
    }


def run_population_cell(cell: Cell, reps: int, rng: np.random.Generator) -> dict[str, float]:
    target, _ = population_truth(cell)
    S, M = simulate_population(cell, reps, rng)
    r = population_arrays(S, M, cell.coef)
    significant = r["p_value"] < TARGET_LEVEL
    excludes = (r["ci_low"] > 0) | (r["ci_high"] < 0)
    return {
        "truth": target,
        "coverage": float(np.mean((r["ci_low"] <= target + 1e-12) & (target - 1e-12 <= r["ci_high"]))),
        "rate_coverage": float("nan"),
        "reject": float(significant.mean()),
        "above_cut": float(np.mean(significant & (r["estimate"] > PAPER_CUT + TOLERANCE))),
        "disagree": int(np.sum(significant != excludes)),
    }


def cells(quick: bool) -> list[Cell]:
    ns = (25, 100, 400) if quick else (25, 50, 100, 200, 400)
    rhos = (0.5,) if quick else (0.2, 0.7)
    gaps = [(0.03, 0.0), (0.14, 0.03), (0.60, 0.10), (0.01, 0.01), (0.05, 0.05), (0.30, 0.30)]
    out: list[Cell] = []
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
    for rates in [(0.14, 0.03, 0.05, 0.03), (0.60, 0.10, 0.30, 0.10), (0.14, 0.03, 0.14, 0.03), (0.03, 0.0, 0.0, 0.0)]:
        for epochs in (1, 3):
            for n in ns:
                out.append(Cell("diff_of_gaps", rates, (1.0, -1.0, -1.0, 1.0), n, epochs, 0.5))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cells and 500 datasets per cell")
    parser.add_argument("--reps", type=int, default=None, help="simulated datasets per cell (default 4000; 500 with --quick)")
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args(argv)
    reps = args.reps or (500 if args.quick else 4000)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    header = f"{'design':<18} {'rates':<24} {'n':>4} {'ep':>2} {'rho':>4} {'truth':>6} {'cover':>6} {'rates':>6} {'reject':>6} {'>cut':>6} {'disagree':>8}"
    print(f"{reps} simulated datasets per cell; nominal {LEVEL:.0%}; targets: coverage >= {TARGET_COVERAGE}, rejection at true 0 <= {TARGET_LEVEL:.2f}")
    print(header)
    misses: list[str] = []
    mc = lambda p: 2.0 * math.sqrt(p * (1 - p) / reps)  # noqa: E731  two Monte Carlo standard errors
    worst_cover, worst_fp = 1.0, 0.0
    for cell in cells(args.quick):
        r = run_cell(cell, reps, rng)
        flags = []
        if min(r["coverage"], np.nan_to_num(r["rate_coverage"], nan=1.0)) < TARGET_COVERAGE:
            flags.append("LOW")
            if min(r["coverage"], np.nan_to_num(r["rate_coverage"], nan=1.0)) < TARGET_COVERAGE - mc(TARGET_COVERAGE):
                misses.append(f"{cell}: coverage {r['coverage']:.3f}, rates {r['rate_coverage']:.3f}")
        if abs(r["truth"]) < 1e-12:
            worst_fp = max(worst_fp, r["reject"])
            if r["reject"] > TARGET_LEVEL:
                flags.append("FP")
                if r["reject"] > TARGET_LEVEL + mc(TARGET_LEVEL):
                    misses.append(f"{cell}: rejects {r['reject']:.3f} at a true gap of 0")
        if r["disagree"]:
            misses.append(f"{cell}: interval and p disagree in {r['disagree']} datasets")
        worst_cover = min(worst_cover, r["coverage"], np.nan_to_num(r["rate_coverage"], nan=1.0))
        rates = "/".join(f"{x:g}" for x in cell.rates)
        print(
            f"{cell.design:<18} {rates:<24} {cell.n:>4} {cell.epochs:>2} {cell.rho:>4} {r['truth']:>6.3f} {r['coverage']:>6.3f} "
            f"{r['rate_coverage']:>6.3f} {r['reject']:>6.3f} {r['above_cut']:>6.3f} {r['disagree']:>8} {' '.join(flags)}",
            flush=True,
        )
    print(f"\nlowest coverage {worst_cover:.3f}; highest rejection at a true gap of 0 {worst_fp:.3f}; {time.perf_counter() - start:.0f} s")
    for miss in misses:
        print("MISS", miss)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
