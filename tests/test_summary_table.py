"""The summary's folder table (analysis/summary.py): scenarios x models, the main contrast's label, each cell the
estimate with its interval and marks, the metric name; built from stand-in logs (no Inspect run: fast)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from alignment_faking.analysis.summary import MARKS, cell, folder_table
from alignment_faking.scorers.results import ContrastResult

NAN = float("nan")
LABEL = "Compliance gap: free (trained) − paid (unmonitored)"


def _contrast(estimate: float, low: float, high: float, significant: float = 0.0, underpowered: float = 0.0, changes: bool = False) -> ContrastResult:
    sensitivity = {"ungraded": SimpleNamespace(changes=True)} if changes else {}
    return ContrastResult(
        "compliance_gap", "compliance", "free", "paid", estimate, low, high, 0.5, 0.5, significant, 0.0, NAN, underpowered, 10.0,
        sensitivity=sensitivity,  # type: ignore[arg-type]
    )


def _results(k: ContrastResult | None, measured: bool = True) -> Any:
    coverage = SimpleNamespace(measured=measured, unmeasured_share=0.75)
    return SimpleNamespace(contrast=lambda: k, coverage=coverage)


def _log(task: str, model: str, variants: tuple[str, ...] = (), status: str = "success", results: bool = True) -> Any:
    contrasts = [{"name": "compliance_gap", "rate": "compliance", "minuend": "free", "subtrahend": "paid", "label": LABEL}]
    metadata = {"contrasts": contrasts, "variants": list(variants), "paraphrases": []}
    return SimpleNamespace(
        eval=SimpleNamespace(task=f"alignment_faking/{task}", model=model, metadata=metadata),
        results=SimpleNamespace(scores=[1]) if results else None, status=status,
    )


def test_a_cell_is_the_estimate_with_its_interval_and_marks() -> None:
    log = _log("gap", "m/a")
    assert cell(log, _results(_contrast(0.43, 0.294, 0.549, significant=1.0))) == "+43.0 [+29.4, +54.9]*"
    assert cell(log, _results(_contrast(0.0, -0.2, 0.2, underpowered=1.0, changes=True))) == "+0.0 [-20.0, +20.0] u ?"
    assert cell(log, _results(_contrast(0.1, 0.0, 0.2), measured=False)) == "not measured (75% invalid/ungraded)"
    assert cell(log, _results(_contrast(NAN, NAN, NAN))) == "n/a"
    assert cell(_log("gap", "m/a", status="error", results=False), None) == "no results (error)"


def test_the_folder_table_is_scenarios_by_models_with_gap_first() -> None:
    entries = [
        (_log("three_tiers", "m/b"), _results(_contrast(0.1, 0.05, 0.15, significant=1.0))),
        (_log("gap", "m/b"), _results(_contrast(0.2, -0.1, 0.5))),
        (_log("gap", "m/a"), _results(_contrast(0.3, 0.1, 0.5, significant=1.0))),
        (_log("suffix_ablation", "m/a", variants=("no_suffix",)), _results(_contrast(0.05, -0.1, 0.2, underpowered=1.0))),
    ]
    lines = folder_table(entries).splitlines()
    assert lines[0].split() == ["scenario", "main", "contrast", "m/a", "m/b", "metric"]
    rows = lines[2:-2]
    assert [row.split("  ")[0].strip() for row in rows] == ["gap", "three_tiers", "suffix_ablation · no_suffix"]  # the battery's order
    gap_row = rows[0]
    assert LABEL in gap_row and gap_row.rstrip().endswith("compliance_gap")
    assert gap_row.index("+30.0 [+10.0, +50.0]*") < gap_row.index("+20.0 [-10.0, +50.0]")  # m/a's column, then m/b's
    assert "+5.0 [-10.0, +20.0] u" in rows[2] and "+10.0 [+5.0, +15.0]*" in rows[1]
    assert all(f"{mark} {words}" in lines[-2] for mark, words in MARKS.items())  # the marks' legend


def _setting_log(setting: str, model: str, metrics: dict[str, float], location: str = "x.eval") -> Any:
    scores = [SimpleNamespace(metrics={k: SimpleNamespace(value=v) for k, v in metrics.items()})]
    return SimpleNamespace(
        eval=SimpleNamespace(task=f"alignment_faking/{setting}", model=model, metadata={"setting": setting}),
        results=SimpleNamespace(scores=scores), status="success", location=location,
    )


def test_the_newer_settings_have_a_row_and_their_measures_in_full() -> None:
    from alignment_faking.analysis.summary import summarise_log

    tool = {"monitoring_effect": 0.383, "monitoring_effect_ci_low": 0.294, "monitoring_effect_ci_high": 0.467,
            "monitoring_effect_p": 1e-8, "monitoring_effect_scenarios": 24.0}
    value = {"gap": 0.05, "gap_ci_low": -0.02, "gap_ci_high": 0.12, "gap_p": 0.2, "gap_scenarios": 40.0,
             "gap_care": 0.49, "gap_care_ci_low": 0.36, "gap_care_ci_high": 0.61, "gap_care_p": 1e-6, "gap_care_scenarios": 8.0}
    entries = [
        (_setting_log("value_conflict", "m/a", value), None),
        (_setting_log("tool_selection", "m/a", tool), None),
        (_log("gap", "m/a"), _results(_contrast(0.3, 0.1, 0.5, significant=1.0))),
    ]
    rows = folder_table(entries).splitlines()[2:-2]
    assert [row.split("  ")[0].strip() for row in rows] == ["gap", "tool_selection", "value_conflict"]
    assert "+38.3 [+29.4, +46.7]*" in rows[1] and rows[1].rstrip().endswith("monitoring_effect")
    assert "+5.0 [-2.0, +12.0]" in rows[2] and "*" not in rows[2] and "no results" not in rows[2]  # spans 0: no mark
    full = summarise_log(_setting_log("value_conflict", "m/a", value), None)
    assert "scenario value_conflict" in full and "no alignment-faking results" not in full
    assert "gap care" in full and "+49.0" in full and "[+36.0, +61.0]" in full
