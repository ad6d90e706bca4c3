"""The spread of a contrast over a paraphrase ensemble: a table and a small figure (for the report).

A paraphrase-ensemble run reports each contrast K pooled (``K``, ``K_ci_low``, ``K_ci_high``) and per paraphrase
(``K_<paraphrase>`` with its interval; ``p0`` is the original prompt, ``g001``… generated paraphrases,
``p1``… the built-in ones). ``spread_frame`` collects the per-paraphrase rows from the results object's contrast;
``spread_figure`` draws them sorted, each with its 95% interval, over the pooled estimate and interval, with
the original prompt marked: a gap that shows under some wordings only (or not under the published one) is
visible at a glance.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from alignment_faking.scorers.results import ContrastResult


def spread_frame(contrast: ContrastResult) -> pd.DataFrame:
    """One row per paraphrase of ``contrast`` (a field of the results object): ``paraphrase``, ``estimate``,
    ``ci_low``, ``ci_high``; sorted by estimate."""
    rows = [
        {"paraphrase": label, "estimate": e.estimate, "ci_low": e.ci_low, "ci_high": e.ci_high}
        for label, e in contrast.paraphrases.items()
    ]
    frame = pd.DataFrame(rows, columns=["paraphrase", "estimate", "ci_low", "ci_high"])
    return frame.sort_values(["estimate", "paraphrase"], ignore_index=True)


def pooled(contrast: ContrastResult) -> tuple[float, float, float]:
    """The contrast pooled over the paraphrases: (estimate, low, high)."""
    return (contrast.estimate, contrast.ci_low, contrast.ci_high)


def spread_summary(frame: pd.DataFrame) -> dict[str, float]:
    """Number of paraphrases, the range of their estimates, and how many intervals exclude 0 on each side."""
    estimates = frame["estimate"].dropna()
    return {
        "paraphrases": float(len(frame)),
        "min": float(estimates.min()) if len(estimates) else math.nan,
        "max": float(estimates.max()) if len(estimates) else math.nan,
        "above_zero": float((frame["ci_low"] > 0).sum()),
        "below_zero": float((frame["ci_high"] < 0).sum()),
    }


def draw_spread(ax: Any, frame: pd.DataFrame, pooled: tuple[float, float, float], contrast: str) -> None:
    """Draw the per-paraphrase estimates with intervals over the pooled (estimate, low, high) on ``ax``."""
    import matplotlib.ticker

    estimate, low, high = pooled
    if not any(math.isnan(v) for v in pooled):
        ax.axvspan(low, high, color="tab:blue", alpha=0.12, label="pooled 95% CI")
        ax.axvline(estimate, color="tab:blue", lw=1.2, label=f"pooled {estimate:+.1%}")
    ax.axvline(0, color="black", lw=0.8)
    for y, row in enumerate(frame.itertuples()):
        original = row.paraphrase == "p0"
        colour = "tab:red" if original else "tab:gray"
        ax.errorbar(
            row.estimate, y, xerr=[[row.estimate - row.ci_low], [row.ci_high - row.estimate]],
            fmt="o", ms=4, color=colour, ecolor=colour, elinewidth=1, capsize=2,
            label="original prompt (p0)" if original else None,
        )
    ax.set_yticks(range(len(frame)), frame["paraphrase"], fontsize=7)
    ax.set_xlabel(f"{contrast} (per paraphrase, 95% CI)")
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(fontsize=7, loc="lower right")


def spread_figure(frame: pd.DataFrame, pooled: tuple[float, float, float], contrast: str, out: Path) -> Path:
    """Draw the per-paraphrase estimates with intervals over the pooled (estimate, low, high); write ``out`` (PNG/SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 0.6 + 0.22 * max(3, len(frame))))
    draw_spread(ax, frame, pooled, contrast)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150, metadata={"Software": None} if out.suffix == ".png" else {"Date": None, "Creator": None})
    plt.close(fig)
    return out
