"""The report's figures, each as SVG and PDF (vector) and PNG (300 dpi) (``--formats`` picks), sized for a page:
6.5 in wide and at most 4 in (1,200 px at 300 dpi) tall, a long figure split into numbered parts
(``contrasts_<section>_1``, ``_2``…): the categories of each condition (Sheshadri et al. 2025 Fig. 1 style), the
contrasts with their intervals (labelled by what they measure), the pre-deployment grid and gaps, and a paraphrase
ensemble's spread. They read the sections' tidy rows and the runs' results objects (``scorers/results.py``)."""

from __future__ import annotations

import base64
import html
import math
import textwrap
from pathlib import Path
from typing import Any, Sequence

from alignment_faking.analysis.report_reading import NAN, Run, condition_label
from alignment_faking.analysis.report_tables import Section, _nan, _short, contrast_label, fmt_int
from alignment_faking.analysis.spread import draw_spread, pooled, spread_frame
from alignment_faking.scorers import metric_names as names

PAGE_WIDTH = 6.5  # inches: a page's text width
MAX_HEIGHT = 4.0  # inches: 1,200 px at 300 dpi; a taller figure is split into parts
FORMATS = ("png", "svg", "pdf")
"""The figure files written by default (``--formats`` picks a subset; SVG is what the page embeds)."""
CATEGORY_STYLE = {  # colour, hatch
    "refusal": ("#9ecae1", ""),
    "refusal_af": ("#9ecae1", "////"),
    "partial": ("#fee391", ""),
    "partial_af": ("#fee391", "////"),
    "compliance": ("#fc8d59", ""),
    "compliance_af": ("#fc8d59", "////"),
    "invalid": ("#969696", ""),
    "ungraded": ("#e0e0e0", "...."),
}
CATEGORY_LABELS = {
    "refusal": "refusal",
    "refusal_af": "refusal, AF reasoning",
    "partial": "partial compliance",
    "partial_af": "partial, AF reasoning",
    "compliance": "compliance",
    "compliance_af": "compliance, AF reasoning",
    "invalid": "invalid response",
    "ungraded": "ungraded",
}
HATCH_COLOR = "#67000d"
MAX_SIDE_BY_SIDE = 6
"""Conditions shown side by side in a category figure; a scenario with more is a grid or gets the tables."""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {"svg.hashsalt": "alignment_faking_report", "hatch.linewidth": 0.6, "font.size": 7, "axes.titlesize": 7, "pdf.fonttype": 42}
    )
    return plt


SAVE_OPTIONS = {  # reproducible files: no dates or tool versions
    "png": {"dpi": 300, "metadata": {"Software": None}},
    "svg": {"metadata": {"Date": None, "Creator": None}},
    "pdf": {"metadata": {"CreationDate": None, "Creator": None, "Producer": None}},
}


EMBEDDED = {".svg": "image/svg+xml", ".png": "image/png"}
"""The figure files the page embeds, in order of preference (a report of PDFs only links them)."""


def figure_html(name: str, paths: Sequence[Path], caption: str) -> str:
    """A figure of the HTML page: the first embeddable file inline, a link to each file, the caption."""
    links = " · ".join(f'<a href="{html.escape(p.name)}">{p.suffix[1:].upper()}</a>' for p in paths)
    shown = next((p for suffix in EMBEDDED for p in paths if p.suffix == suffix), None)
    image = ""
    if shown is not None:
        data = base64.b64encode(shown.read_bytes()).decode("ascii")
        image = f'<img alt="{html.escape(name)}" src="data:{EMBEDDED[shown.suffix]};base64,{data}">'
    return f'<figure id="{html.escape(name)}">{image}<figcaption>{html.escape(caption)} ({links})</figcaption></figure>'


def _save(fig: Any, out: Path, name: str, formats: Sequence[str] = FORMATS) -> list[Path]:
    paths = [out / f"{name}.{kind}" for kind in formats]
    for path in paths:
        fig.savefig(path, **SAVE_OPTIONS[path.suffix[1:]])
    _pyplot().close(fig)
    return paths


def pages(heights: Sequence[float], fixed: float) -> list[list[int]]:
    """Indices of rows (or panels) of the given heights grouped into figures of at most ``MAX_HEIGHT`` inches,
    each figure also taking ``fixed`` inches (axes labels, legend); in order, at least one row per figure."""
    groups: list[list[int]] = [[]]
    used = fixed
    for index, height in enumerate(heights):
        if groups[-1] and used + height > MAX_HEIGHT:
            groups.append([])
            used = fixed
        groups[-1].append(index)
        used += height
    return groups


def _paged(kind: str, part: Section, count: int) -> list[str]:
    """The file names of a figure in ``count`` parts: ``contrasts_gap``, or ``contrasts_gap_1``, ``_2``…"""
    stem = f"{kind}_{part.slug}"
    return [stem] if count == 1 else [f"{stem}_{i}" for i in range(1, count + 1)]


def _shares(part: Section) -> dict[tuple[str, str], dict[str, float]]:
    """(run label, condition) -> category -> share (0–1). Logs without ``cat_invalid`` get invalid / n."""
    shares: dict[tuple[str, str], dict[str, float]] = {}
    rows = part.results[part.results["kind"] == "condition"]
    for (run, name), group in rows.groupby(["run", "name"], sort=False):
        values = dict(zip(group["measure"], group["value"]))
        cell = {c: values.get(f"cat_{c}", NAN) for c in names.CATEGORIES}
        if _nan(cell["invalid"]) and not _nan(values.get("invalid", NAN)) and values.get("n"):
            cell["invalid"] = values["invalid"] / values["n"]
        shares[(run, name)] = cell
    return shares


CATEGORY_ROW, CATEGORY_FIXED = 0.28, 1.25  # inches per model row, inches for titles and legend


def categories_figures(part: Section, out: Path, formats: Sequence[str] = FORMATS) -> dict[str, list[Path]]:
    """The categories figure, split by models where they would not fit a page."""
    runs = list(dict.fromkeys(part.results["run"]))
    groups = pages([CATEGORY_ROW] * len(runs), CATEGORY_FIXED)
    return {name: categories_figure(part, [runs[i] for i in group], out, name, formats) for name, group in zip(_paged("categories", part, len(groups)), groups)}


def categories_figure(part: Section, runs: list[str], out: Path, name: str, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Sheshadri et al. Fig. 1 style: models as rows, conditions side by side, each bar the categories' shares."""
    plt = _pyplot()
    shares = _shares(part)
    run0 = part.runs[0]
    conditions = run0.conditions()
    n = {(r, c): v for r, c, v in part.results[(part.results["kind"] == "condition") & (part.results["measure"] == "n")][["run", "name", "value"]].itertuples(index=False)}
    fig, axes = plt.subplots(
        1, len(conditions), figsize=(PAGE_WIDTH, CATEGORY_ROW * len(runs) + CATEGORY_FIXED), sharey=True, squeeze=False, layout="constrained"
    )
    for ax, condition in zip(axes[0], conditions):
        left = [0.0] * len(runs)
        for category in names.CATEGORIES:
            color, hatch = CATEGORY_STYLE[category]
            widths = [100 * (0.0 if _nan(shares.get((r, condition), {}).get(category, NAN)) else shares[(r, condition)][category]) for r in runs]
            ax.barh(
                range(len(runs)), widths, left=left, height=0.7, color=color, hatch=hatch,
                edgecolor=HATCH_COLOR if hatch and category != "ungraded" else ("#7f7f7f" if hatch else "white"),
                linewidth=0.0, label=CATEGORY_LABELS[category],
            )
            left = [a + b for a, b in zip(left, widths)]
        counts = sorted({fmt_int(n.get((r, condition), NAN)) for r in runs})
        label = textwrap.fill(condition_label(condition, run0.facts(condition)), width=max(14, 100 // len(conditions)))
        ax.set_title(f"{label}\nn = {', '.join(counts)}", fontsize=7)
        ax.set_xlim(0, 100)
        ax.set_xticks([0, 50, 100])
        ax.grid(axis="x", color="#d0d0d0", linewidth=0.5)
        ax.set_axisbelow(True)
        ax.tick_params(axis="y", length=0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[0, 0].set_yticks(range(len(runs)), [_short(r) for r in runs])
    axes[0, 0].set_ylim(len(runs) - 0.5, -0.5)
    axes[0, 0].set_xlabel("share of responses (%)", fontsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False, fontsize=6.5)
    return _save(fig, out, name, formats)


CONTRAST_ROW = 0.26  # inches per contrast row (a label of up to two lines)
LABEL_WIDTH = 52  # characters per line of a contrast's label


def contrasts_figures(part: Section, out: Path, formats: Sequence[str] = FORMATS) -> dict[str, list[Path]]:
    """The contrasts figure, split into parts (rows in order: a contrast's models and paraphrases together) where
    it would not fit a page."""
    rows = part.results[part.results["kind"] == "contrast"]
    runs = list(dict.fromkeys(rows["run"]))
    order = {name: i for i, name in enumerate(dict.fromkeys(rows["name"]))}
    rows = rows.assign(_c=rows["name"].map(order), _r=rows["run"].map({r: i for i, r in enumerate(runs)})).sort_values(["_c", "_r", "paraphrase"], kind="stable")
    groups = pages([CONTRAST_ROW] * len(rows), _contrast_fixed(len(runs)))
    names = _paged("contrasts", part, len(groups))
    return {name: contrasts_figure(rows.iloc[group], runs, out, name, formats) for name, group in zip(names, groups)}


def _contrast_fixed(models: int) -> float:
    """Inches of a contrasts figure besides its rows: the axis and the legend (four entries a line)."""
    entries = (models if models > 1 else 0) + 2
    return 0.9 + 0.16 * math.ceil(entries / 4)


def two_lines(text: str, width: int = LABEL_WIDTH) -> str:
    """A label on at most two lines of ``width`` characters (cut with an ellipsis beyond)."""
    lines = textwrap.wrap(text, width)
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), width, placeholder=" …")]
    return "\n".join(lines)


def contrasts_figure(rows: Any, runs: list[str], out: Path, name: str, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Each contrast per model with its 95% interval (percentage points), labelled by what it measures; hollow
    where the interval spans 0."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    palette = plt.get_cmap("tab10")
    colors = {run: palette(i % 10) for i, run in enumerate(runs)}
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, CONTRAST_ROW * len(rows) + _contrast_fixed(len(runs))), layout="constrained")
    labels = []
    for y, (_, row) in enumerate(rows.iterrows()):
        per_paraphrase = bool(row["paraphrase"])
        text = f"{row['label']} [{row['paraphrase']}]" if per_paraphrase else row["label"]
        text = f"{text} · {_short(row['run'])}" if len(runs) > 1 else text
        labels.append(two_lines(text))
        if _nan(row["value"]):
            ax.text(0, y, "n/a", va="center", ha="left", fontsize=6, color="grey")
            continue
        value, low, high = (100 * row[k] for k in ("value", "ci_low", "ci_high"))
        spans_zero = not (_nan(low) or _nan(high)) and low <= 0 <= high
        color = colors[row["run"]]
        if not (_nan(low) or _nan(high)):
            ax.plot([low, high], [y, y], color=color, linewidth=0.9 if per_paraphrase else 1.4, solid_capstyle="butt")
        ax.plot([value], [y], linestyle="none", marker="o", markersize=3 if per_paraphrase else 4.5,
                markerfacecolor="white" if spans_zero else color, markeredgecolor=color, markeredgewidth=1.0)
    ax.set_yticks(range(len(labels)), labels, fontsize=6.5)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.axvline(1, color="grey", linewidth=0.6, linestyle=":")
    ax.grid(axis="x", color="#e0e0e0", linewidth=0.5)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("difference (percentage points), 95% interval")
    handles = [Line2D([], [], color=colors[r], marker="o", linewidth=1.4, label=_short(r)) for r in runs] if len(runs) > 1 else []
    handles += [
        Line2D([], [], color="black", marker="o", markerfacecolor="white", linestyle="none", label="interval spans 0"),
        Line2D([], [], color="grey", linestyle=":", label="the paper's 1-point cut"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(4, len(handles)), frameon=False, fontsize=6.5)
    return _save(fig, out, name, formats)


def _grid_axes(run: Run) -> tuple[list[str], list[str]]:
    processes = list(dict.fromkeys(str(run.facts(c)["process"]) for c in run.conditions()))
    deployments = list(dict.fromkeys(str(run.facts(c)["deployment"]) for c in run.conditions()))
    return processes, deployments


def _compliance(run: Run, condition: str | None) -> float:
    """A condition's compliance rate from the run's results object (NaN where the cell is not run)."""
    c = run.results.conditions.get(condition) if condition else None
    return c.rates["compliance"].estimate if c is not None and "compliance" in c.rates else NAN


GRID_ROW, GRID_PANEL, GRID_FIXED = 0.24, 0.35, 1.1  # inches per process row, per model panel, for the axis labels


def grid_figures(part: Section, out: Path, formats: Sequence[str] = FORMATS) -> dict[str, list[Path]]:
    """The pre-deployment grid, a panel per model, split by models where they would not fit a page."""
    processes, _ = _grid_axes(part.runs[0])
    groups = pages([GRID_ROW * len(processes) + GRID_PANEL] * len(part.runs), GRID_FIXED)
    names = _paged("grid", part, len(groups))
    return {name: grid_figure(part, [part.runs[i] for i in group], out, name, formats) for name, group in zip(names, groups)}


def grid_figure(part: Section, runs: list[Run], out: Path, name: str, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Pre-deployment: the compliance rate of each process × deployment cell, a panel per model."""
    plt = _pyplot()
    import numpy as np

    processes, deployments = _grid_axes(runs[0])
    fig, axes = plt.subplots(
        len(runs), 1, figsize=(PAGE_WIDTH, (GRID_ROW * len(processes) + GRID_PANEL) * len(runs) + GRID_FIXED), squeeze=False, layout="constrained"
    )
    for ax, run in zip(axes[:, 0], runs):
        cells = {(str(run.facts(c)["process"]), str(run.facts(c)["deployment"])): c for c in run.conditions()}
        values = np.array([[100 * _compliance(run, cells.get((p, d))) for d in deployments] for p in processes])
        image = ax.imshow(np.ma.masked_invalid(values), cmap="Oranges", vmin=0, vmax=100, aspect="auto")
        for i, p in enumerate(processes):
            for j, d in enumerate(deployments):
                condition = cells.get((p, d))
                if condition is None:
                    continue
                value = values[i, j]
                ax.text(j, i, "n/a" if math.isnan(value) else f"{value:.0f}", ha="center", va="center", fontsize=6, color="white" if value > 60 else "black")
        ax.set_yticks(range(len(processes)), [p.replace("_", " ") for p in processes])
        ax.set_xticks(range(len(deployments)), [d.replace("_", " ") for d in deployments] if ax is axes[-1, 0] else [""] * len(deployments), rotation=30, ha="right")
        ax.set_title(_short(run.label), loc="left", fontsize=7, fontweight="bold")
    fig.colorbar(image, ax=axes[:, 0].tolist(), label="compliance (%)", shrink=0.8)
    return _save(fig, out, name, formats)


GAPS_ROW, GAPS_FIXED = 0.3, 1.6  # inches per row (a contrast family of a model), for the axis labels and title


def _families(names: Any, deployments: list[str]) -> list[str]:
    """The contrast families of a grid's contrasts: ``goal_guarding_gap_public`` -> ``goal_guarding_gap``."""
    families = []
    for name in dict.fromkeys(names):
        for deployment in sorted(deployments, key=len, reverse=True):  # the longest deployment suffix that matches
            if name.endswith("_" + deployment):
                families.append(name[: -len(deployment) - 1])
                break
    return list(dict.fromkeys(families))


def gaps_figures(part: Section, out: Path, formats: Sequence[str] = FORMATS) -> dict[str, list[Path]]:
    """The pre-deployment gaps, a row per model and contrast family, split where they would not fit a page."""
    rows = part.results[(part.results["kind"] == "contrast") & (part.results["paraphrase"] == "")]
    _, deployments = _grid_axes(part.runs[0])
    families = _families(rows["name"], deployments)
    runs = list(dict.fromkeys(rows["run"]))
    pairs = [(r, f) for r in runs for f in families]
    groups = pages([GAPS_ROW] * len(pairs), GAPS_FIXED)
    names = _paged("gaps", part, len(groups))
    return {name: gaps_figure(part, rows, [pairs[i] for i in group], len(runs) > 1, out, name, formats) for name, group in zip(names, groups)}


def _family_label(rows: Any, family: str) -> str:
    """A contrast family in words: its first contrast's label up to the deployment (``Goal-guarding gap``)."""
    labels = rows.loc[rows["name"].str.startswith(family + "_"), "label"]
    return str(labels.iloc[0]).split(",")[0].split(":")[0] if len(labels) else family.replace("_", " ")


def gaps_figure(part: Section, rows: Any, pairs: list[tuple[str, str]], many: bool, out: Path, name: str, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Pre-deployment: each contrast family (goal guarding, other AI, AF) per deployment, per model, in points;
    cells whose 95% interval spans 0 are hatched and faded."""
    plt = _pyplot()
    import numpy as np
    from matplotlib.patches import Rectangle

    _, deployments = _grid_axes(part.runs[0])
    labels = [f"{_family_label(rows, f)} · {_short(r)}" if many else _family_label(rows, f) for r, f in pairs]
    cells = {(r, n): row for r, n, row in ((row["run"], row["name"], row) for _, row in rows.iterrows())}
    values = np.array([[100 * cells[(r, f"{f}_{d}")]["value"] if (r, f"{f}_{d}") in cells else np.nan for d in deployments] for r, f in pairs])
    finite = np.abs(values[np.isfinite(values)])
    limit = 10.0 * math.ceil(max(5.0, float(finite.max()) if finite.size else 0.0) / 10.0)
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, GAPS_ROW * len(labels) + GAPS_FIXED), layout="constrained")
    image = ax.imshow(np.ma.masked_invalid(values), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    for i, (r, f) in enumerate(pairs):
        for j, d in enumerate(deployments):
            row = cells.get((r, f"{f}_{d}"))
            if row is None or _nan(row["value"]):
                continue
            low, high = row["ci_low"], row["ci_high"]
            uncertain = _nan(low) or _nan(high) or low <= 0 <= high
            if uncertain:  # fade and hatch: the interval includes no difference
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white", alpha=0.55, edgecolor="#9e9e9e", hatch="////", linewidth=0))
            ax.text(j, i, f"{100 * row['value']:+.0f}", ha="center", va="center", fontsize=6, color="black" if uncertain or abs(values[i, j]) < 0.6 * limit else "white")
    ax.set_xticks(range(len(deployments)), [d.replace("_", " ") for d in deployments], rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    fig.colorbar(image, ax=ax, label="difference (percentage points)", shrink=0.9)
    ax.set_title("hatched: the 95% interval includes 0", loc="left", fontsize=6.5, color="#555")
    return _save(fig, out, name, formats)


def spread_figures(part: Section, out: Path, formats: Sequence[str] = FORMATS) -> dict[str, list[Path]]:
    """A paraphrase ensemble's headline contrast per paraphrase with its interval, over the pooled estimate,
    a panel per model (``analysis.spread``), split by models where they would not fit a page; none when no run
    has two or more paraphrases."""
    panels = []
    for run in part.runs:
        k = run.results.contrast()
        frame = spread_frame(k) if k is not None else None
        if k is not None and frame is not None and len(frame) >= 2:
            spec = next((c for c in run.contrasts() if c["name"] == k.name), {"name": k.name})
            panels.append((run, contrast_label(spec), frame, pooled(k)))
    groups = pages([0.6 + 0.2 * max(3, len(frame)) for _, _, frame, _ in panels], 0.3) if panels else []
    names = _paged("spread", part, len(groups))
    return {name: spread_figure([panels[i] for i in group], out, name, formats) for name, group in zip(names, groups)}


def spread_figure(panels: list[Any], out: Path, name: str, formats: Sequence[str] = FORMATS) -> list[Path]:
    """One page of the spread figure: a panel per model."""
    plt = _pyplot()
    heights = [0.6 + 0.2 * max(3, len(frame)) for _, _, frame, _ in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(PAGE_WIDTH, sum(heights) + 0.3), squeeze=False, layout="constrained",
                             gridspec_kw={"height_ratios": heights})
    for ax, (run, contrast, frame, whole) in zip(axes[:, 0], panels):
        draw_spread(ax, frame, whole, contrast)
        ax.set_title(_short(run.label or run.model), loc="left", fontsize=7)
    return _save(fig, out, name, formats)


def section_figures(part: Section, out: Path, formats: Sequence[str] = FORMATS) -> dict[str, list[Path]]:
    """The figures of one section: file name (``<kind>_<section>[_<part>]``) -> written files (``formats``)."""
    figures: dict[str, list[Path]] = {}
    has_contrasts = (part.results["kind"] == "contrast").any()
    if part.grid:
        figures.update(grid_figures(part, out, formats))
        if has_contrasts:
            figures.update(gaps_figures(part, out, formats))
        return figures
    if len(part.runs[0].conditions()) <= MAX_SIDE_BY_SIDE and part.results["measure"].str.startswith("cat_").any():
        figures.update(categories_figures(part, out, formats))
    if has_contrasts:
        figures.update(contrasts_figures(part, out, formats))
        figures.update(spread_figures(part, out, formats))
    return figures


def figure_kind(name: str) -> str:
    """The kind of a figure (a key of ``CAPTIONS``) from its file name."""
    return name.split("_", 1)[0]


CAPTIONS = {
    "categories": "Share of responses in each category, per model (rows) and condition (columns), after Sheshadri et al. "
    "2025 Fig. 1; hatched segments show alignment-faking reasoning; grey: invalid responses; dotted: ungraded.",
    "contrasts": "Each contrast with its 95% interval, in percentage points; hollow points: the interval includes 0; "
    "dotted line: the paper's 1-point cut.",
    "grid": "Compliance rate (%) for each pre-deployment process (rows) and deployment (columns), a panel per model.",
    "spread": "A paraphrase ensemble: the main contrast under each paraphrase (p0: the original prompt) with its 95% "
    "interval, over the pooled estimate and its interval (shaded), a panel per model.",
    "gaps": "Each process contrast per deployment (percentage points; minuend − subtrahend as in the contrast table); "
    "hatched, faded cells: the 95% interval includes 0.",
}


