"""The report (analysis/report.py): CSV, markdown table, figures and HTML page, checked against the logs."""

from __future__ import annotations

import base64
import math
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log, write_eval_log
from PIL import Image

from alignment_faking.analysis.report import (
    CONTRAST_FIELDS, auxiliary_table, build_report, condition_label, fmt_int, fmt_pct, fmt_pp, fmt_rate, main, read_runs, results_frame, sections,
)
from alignment_faking.tasks.gap import gap
from alignment_faking.tasks.predeployment import predeployment
from alignment_faking.scorers.metrics import full_results_from_log

REPO = Path(__file__).resolve().parents[1]
GRADER = {"grader": "organism/grader"}
PREDEPLOYMENT_CONDITIONS = "only_rating_public,rating_and_training_public,only_rating_bioweapon_attacks,rating_and_training_bioweapon_attacks"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.slow  # each test runs Inspect end to end (more than ~10 s on 2 cores)


def _eval(task, model, log_dir: Path) -> None:
    logs = inspect_eval(task, model=model, model_roles=GRADER, log_dir=str(log_dir), display="none")
    assert all(log.status == "success" for log in logs), [log.error for log in logs]


@pytest.fixture(scope="module")
def gap_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Gap runs of the faker and the refuser."""
    folder = tmp_path_factory.mktemp("gap_logs")
    _eval(gap(dataset="builtin", queries=4, af_votes=1), ["organism/faker", "organism/refuser"], folder)
    return folder


@pytest.fixture(scope="module")
def all_logs(tmp_path_factory: pytest.TempPathFactory, gap_logs: Path) -> Path:
    """The gap runs, a paraphrase ensemble with a variant, and a pre-deployment run (four conditions)."""
    folder = tmp_path_factory.mktemp("all_logs")
    for log in gap_logs.glob("*.eval"):
        shutil.copy(log, folder)
    _eval(gap(dataset="builtin", queries=2, af_votes=1, paraphrases="all", variant="no_suffix"), "organism/faker", folder)
    _eval(predeployment(dataset="builtin", queries=2, af_votes=1, conditions=PREDEPLOYMENT_CONDITIONS), "organism/faker", folder)
    return folder


def _report(logs: Path, out: Path) -> Path:
    assert main([str(logs), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def gap_report(tmp_path_factory: pytest.TempPathFactory, gap_logs: Path) -> Path:
    return _report(gap_logs, tmp_path_factory.mktemp("gap_report"))


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory, all_logs: Path) -> Path:
    return _report(all_logs, tmp_path_factory.mktemp("full_report"))


def _logs(folder: Path) -> dict[str, object]:
    return {path.name: read_eval_log(str(path)) for path in sorted(folder.glob("*.eval"))}


def _metrics(log) -> dict[str, float]:
    """Every number of the run (the log keeps a small metric set; test_metrics checks it agrees)."""
    return full_results_from_log(log)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_csv_values_equal_the_log_metrics_and_cover_them_all(all_logs: Path, full_report: Path) -> None:
    results = pd.read_csv(full_report / "results.csv", keep_default_na=False, na_values=[""])
    logs = _logs(all_logs)
    assert set(results["log"]) == set(logs)
    for name, log in logs.items():
        metrics = _metrics(log)
        rows = results[results["log"] == name]
        metadata = log.eval.metadata
        assert set(rows["model"]) == {log.eval.model}
        assert set(rows["task"]) == {log.eval.task.split("/")[-1]}
        assert set(rows["scenario"]) == {metadata["scenario"]}
        covered: set[str] = set()
        for row in rows.itertuples():
            assert _same(row.value, metrics[row.metric]), (name, row.metric)
            covered.add(row.metric)
            if row.kind == "condition":
                assert row.metric == f"{row.measure}_{row.name}"
                assert row.n == metrics[f"n_{row.name}"]
                assert row.label == condition_label(row.name, metadata["facts"][row.name])
                for bound in ("ci_low", "ci_high"):
                    if f"{row.metric}_{bound}" in metrics:
                        assert _same(getattr(row, bound), metrics[f"{row.metric}_{bound}"])
                        covered.add(f"{row.metric}_{bound}")
            elif isinstance(row.paraphrase, str) and row.paraphrase:
                assert row.metric == f"{row.name}_{row.paraphrase}"
                assert row.ci_low == metrics[f"{row.metric}_ci_low"] and row.ci_high == metrics[f"{row.metric}_ci_high"]
                covered.update({f"{row.metric}_ci_low", f"{row.metric}_ci_high"})
            elif row.kind == "metric":
                assert row.name == row.metric  # a number of the log that is neither a condition's nor a contrast's
            else:
                assert row.kind == "contrast" and row.metric == row.name
                for column, key_of in CONTRAST_FIELDS.items():
                    key = key_of(row.name)
                    assert key in metrics, (row.name, column)
                    assert _same(getattr(row, column), metrics[key]), (name, row.name, column)
                    covered.add(key)
                contrast = next(c for c in metadata["contrasts"] if c["name"] == row.name)
                assert (row.measure, row.minuend, row.subtrahend) == (contrast["rate"], contrast["minuend"], contrast["subtrahend"])
                # the label is the scenario file's (recorded in the log); the definition spells out the rate and sides
                assert row.label == contrast["label"] and row.label != row.name
                assert row.definition.startswith(f"{row.measure}: ") and " − " in row.definition
        assert covered == set(metrics), set(metrics) ^ covered  # every number of the log is in the CSV
    # the paraphrase ensemble has its per-paraphrase rows, the pre-deployment run its deployments
    assert set(results.loc[results["paraphrase"].notna(), "paraphrase"]) == {"p0", "p1", "p2", "p3"}
    assert "goal_guarding_gap_bioweapon_attacks" in set(results["name"])


def _row_of(table: str, *cells: str) -> str:
    """The one markdown row that has all these cells."""
    rows = [line for line in table.splitlines() if line.startswith("| ") and all(f"| {c} |" in line for c in cells)]
    assert len(rows) == 1, (cells, rows)
    return rows[0]


def test_markdown_table_shows_each_model_condition_and_contrast_with_the_log_numbers(all_logs: Path, full_report: Path) -> None:
    table = (full_report / "table.md").read_text()
    for name, log in _logs(all_logs).items():
        metrics = _metrics(log)
        model, metadata = log.eval.model, log.eval.metadata
        parts = ["+".join(metadata["variants"])] if metadata["variants"] else []
        parts += [f"paraphrases {','.join(metadata['paraphrases'])}"] if metadata["paraphrases"] else []
        setting = "; ".join(parts) or "—"
        assert name in table  # the logs-read line, the run card and the token table
        for condition in metadata["conditions"]:
            label = condition_label(condition, metadata["facts"][condition])
            row = _row_of(table, model, metadata["scenario"], setting, label)
            rate = [fmt_rate(metrics[f"{m}_{condition}"], metrics.get(f"{m}_{condition}_ci_low", math.nan), metrics.get(f"{m}_{condition}_ci_high", math.nan)) for m in ("compliance", "af")]
            expected = rate + [fmt_pct(metrics[f"partial_{condition}"])]
            expected += [fmt_int(metrics[f"{m}_{condition}"]) for m in ("invalid", "grader_failed", "n")]
            assert ("| " + " | ".join(expected) + " |") in row, row
        for contrast in metadata["contrasts"]:
            k, label = contrast["name"], contrast["label"]
            row = _row_of(table, model, metadata["scenario"], setting, label, k)  # the label, and the metric name in its column
            assert f"| {fmt_pp(metrics[k], metrics[k + '_ci_low'], metrics[k + '_ci_high'])} |" in row
            assert " pp [" in row and "%" not in row.split(f"| {label} |")[1]  # differences in points, not percent
            for paraphrase in metadata["paraphrases"]:
                key = f"{k}_{paraphrase}"
                row = _row_of(table, model, metadata["scenario"], setting, f"{label} [{paraphrase}]", key)
                assert f"| {fmt_pp(metrics[key], metrics[key + '_ci_low'], metrics[key + '_ci_high'])} |" in row
        # tokens: the model under test and the grader bound to the role, from the log's model usage
        usage = log.stats.model_usage
        row = [line for line in table.split("## Tokens")[1].splitlines() if f"| {name} |" in line][0]
        grader = usage["organism/grader"]
        for who, counts in ((model, usage[model]), ("organism/grader", grader)):
            numbers = (fmt_int(counts.input_tokens), fmt_int(counts.output_tokens), fmt_int(counts.total_tokens))
            assert f"| {who} | {' | '.join(numbers)} |" in row
        # the run card: what produced the log
        card = table.split("## Run card")[1].split("\n## ")[0]
        assert f"| {name} |" in card and "grader organism/grader" in card and f"dataset {metadata['dataset']}" in card
        assert "Inspect 0.3.285" in card  # values every log shares are stated once, above the table
        # the prompt set is the prompt set; the scratchpad, the prompt changes and the rubric set have their own columns
        assert "prompt set ours" in card and "scratchpad yes" in card and "rubric set ours" in card
        changes = "paraphrases p0,p1,p2,p3" if metadata["paraphrases"] else "none"
        assert re.search(rf"\| {re.escape(name)} \|", card) and changes in _row_of(card, name)


def test_condition_labels_say_what_a_condition_means() -> None:
    assert condition_label("free", {"trained": True, "rated": True}) == "free (trained)"
    assert condition_label("pro", {"trained": False, "rated": True}) == "pro (rated only)"
    assert condition_label("enterprise", {"trained": False, "rated": False}) == "enterprise (unmonitored)"
    assert condition_label("plus", {"trained": True, "rated": True, "training": "rlhf", "rater": "llm"}) == "plus (trained: RLHF, llm raters)"
    assert condition_label("x_y", {"process": "rating_and_training", "deployment": "public"}) == "rating and training · public"
    assert condition_label("custom", {}) == "custom"


def _assert_figure(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000, path
    if path.suffix == ".png":
        assert path.read_bytes()[:8] == PNG_MAGIC
    elif path.suffix == ".pdf":
        assert path.read_bytes()[:5] == b"%PDF-"
    else:
        assert ET.parse(path).getroot().tag.endswith("svg")


def _figures(report: Path) -> set[str]:
    return {path.stem for path in report.glob("*.svg")}


def test_figures_per_section_in_three_formats(full_report: Path) -> None:
    # the gap runs, the paraphrase ensemble (both task gap: named by setting) and the pre-deployment grid
    stems = _figures(full_report)
    assert {"grid_predeployment", "gaps_predeployment"} <= stems
    assert sum(stem.startswith("categories_gap") for stem in stems) == 2 and sum(stem.startswith("contrasts_gap") for stem in stems) == 2
    # the paraphrase ensemble (and only it) gets the spread of its main contrast over its paraphrases
    assert [stem for stem in stems if stem.startswith("spread_")] == [f"spread_{s[len('contrasts_'):]}" for s in stems if s.startswith("contrasts_gap") and "p0" in s]
    for stem in stems:
        for suffix in (".png", ".svg", ".pdf"):
            _assert_figure(full_report / f"{stem}{suffix}")
        with Image.open(full_report / f"{stem}.png") as image:  # sized for a page: 6.5 in wide, <= 4 in tall, at 300 dpi
            assert image.size[0] == pytest.approx(6.5 * 300, abs=2) and image.info["dpi"][0] == pytest.approx(300, abs=1)
            assert image.size[1] <= 1200, (stem, image.size)


def test_grid_only_with_predeployment_logs(gap_logs: Path, gap_report: Path, full_report: Path, tmp_path: Path) -> None:
    assert _figures(gap_report) == {"categories_gap", "contrasts_gap"}
    assert "grid_" not in (gap_report / "index.html").read_text()
    # a later report without pre-deployment logs into the same folder leaves no stale figure
    out = shutil.copytree(full_report, tmp_path / "out")
    _report(gap_logs, out)
    assert _figures(out) == {"categories_gap", "contrasts_gap"}


def test_html_is_self_contained_with_the_figures_and_tables(all_logs: Path, full_report: Path) -> None:
    page = (full_report / "index.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page.lower() and "<link" not in page.lower()
    embedded = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    svgs = {base64.b64decode(data) for data in embedded}
    for svg in full_report.glob("*.svg"):
        assert svg.read_bytes() in svgs
    assert page.count('<h2 id="') == 7  # main contrasts, run card, three sections, tokens, cost
    assert all(f'href="#{anchor}"' in page for anchor in ("main-contrasts", "run-card", "tokens", "cost", "predeployment"))  # table of contents
    # the sections in the battery's order, gap first; the headline table above the run card
    sections_in_order = re.findall(r'<h2 id="([^"]+)"', page)
    assert sections_in_order[:2] == ["main-contrasts", "run-card"] and sections_in_order[2].startswith("gap")
    assert sections_in_order.index(next(s for s in sections_in_order if s.startswith("predeployment"))) > 2
    assert all(name in page for name in _logs(all_logs))  # which logs were read
    assert "Read 4 logs" in page


def test_figure_pages_fit_the_height() -> None:
    from alignment_faking.analysis.report_figures import MAX_HEIGHT, pages

    assert pages([1.0] * 5, 1.5) == [[0, 1], [2, 3], [4]]  # 1.5 + 2 x 1.0 fits 4 in, a third would not
    assert pages([5.0, 0.5], 1.0) == [[0], [1]]  # a row taller than a page still gets one of its own
    assert pages([], 1.0) == [[]]
    assert all(1.0 + sum([0.3] * len(g)) <= MAX_HEIGHT for g in pages([0.3] * 40, 1.0))


def test_a_long_contrast_figure_is_split_into_parts_that_fit(all_logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alignment_faking.analysis import report_figures

    monkeypatch.setattr(report_figures, "MAX_HEIGHT", 2.0)  # the ensemble's 10 contrast rows no longer fit one figure
    runs, _ = read_runs(all_logs)
    part = next(p for p in sections(runs, results_frame(runs)) if p.runs[0].paraphrases)
    figures = report_figures.contrasts_figures(part, tmp_path, ("png",))
    assert list(figures) == [f"contrasts_{part.slug}_{i}" for i in range(1, len(figures) + 1)] and len(figures) >= 3
    for [path] in figures.values():
        with Image.open(path) as image:
            assert image.size[1] <= 2.0 * 300 + 1


def test_formats_pick_the_figure_files_and_a_bad_one_is_named(gap_logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(gap_logs), "--out", str(tmp_path / "svg"), "--formats", "svg"]) == 0
    assert {p.suffix for p in (tmp_path / "svg").iterdir() if p.stem.startswith(("categories", "contrasts"))} == {".svg"}
    assert "data:image/svg+xml;base64," in (tmp_path / "svg" / "index.html").read_text()
    assert main([str(gap_logs), "--out", str(tmp_path / "png"), "--formats", "png,pdf"]) == 0
    assert "data:image/png;base64," in (tmp_path / "png" / "index.html").read_text()  # no SVG: the page embeds the PNG
    assert main([str(gap_logs), "--out", str(tmp_path / "bad"), "--formats", "svg,jpg"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --formats: unknown figure format(s) jpg; valid: png, svg, pdf (comma-separated)"]
    assert not (tmp_path / "bad").exists()  # stopped before anything was read or written


def test_empty_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) != 0
    assert "no eval logs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) != 0
    assert "neither" in capsys.readouterr().err


def test_log_without_results_is_skipped_and_named(gap_logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = next(gap_logs.glob("*.eval"))
    failed = read_eval_log(str(source))
    failed.status, failed.results = "error", None
    folder = tmp_path / "logs"
    folder.mkdir()
    write_eval_log(failed, str(folder / "failed.eval"))
    assert main([str(folder), "--out", str(tmp_path / "out")]) != 0  # nothing to report
    assert "failed.eval" in capsys.readouterr().err
    shutil.copy(source, folder)
    assert main([str(folder), "--out", str(tmp_path / "out")]) == 0
    assert "Skipped: failed.eval (status error, no results)" in (tmp_path / "out" / "table.md").read_text()
    assert set(pd.read_csv(tmp_path / "out" / "results.csv")["log"]) == {source.name}


def test_runs_as_a_module_from_the_checkout(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "analysis.report", str(tmp_path / "empty"), "--out", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1 and "no eval logs" in done.stderr


def test_motive_and_follow_up_shares_get_their_own_table(tmp_path: Path) -> None:
    # an optional scorer's metrics (the second score of the log) reach the report: a row per share, a column per
    # condition, with the log's values
    from alignment_faking.tasks.welfare import animal_welfare

    [log] = inspect_eval(animal_welfare(queries=4, af_votes=1, motives=True), model="organism/faker", model_roles=GRADER,
                         log_dir=str(tmp_path / "logs"), display="none")
    runs, _ = read_runs(tmp_path / "logs")
    [part] = sections(runs, results_frame(runs))
    table = auxiliary_table(part)
    motives = log.results.scores[1].metrics
    assert len(table) == len({k.rsplit("_", 1)[0] for k in motives if k.startswith("why_") or k.startswith("af_motive_")})
    row = table[table["share"] == "why_animal_welfare_values"].iloc[0]
    labels = {c: condition_label(c, runs[0].facts(c)) for c in ("free", "paid")}
    assert row[labels["free"]] == fmt_pct(motives["why_animal_welfare_values_free"].value)
    page = build_report(tmp_path / "logs", tmp_path / "out")
    assert "Motives and follow-up answers" in (tmp_path / "out" / "index.html").read_text() and page["runs"]


def test_headline_table_and_folder_summary_lead_with_each_runs_main_contrast(all_logs: Path, full_report: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from alignment_faking.analysis.summary import main as summary_main

    logs = _logs(all_logs)
    table = (full_report / "table.md").read_text()
    headline = table.split("## Main contrasts")[1].split("\n## ")[0]
    assert table.index("## Main contrasts") < table.index("## Run card")
    header = headline.split("\n| ")[1].splitlines()[0]
    assert header.startswith("scenario | main contrast | ") and header.rstrip(" |").endswith("| metric")
    assert "organism/faker" in header and "organism/refuser" in header  # a column per model
    for name, log in logs.items():
        m = _metrics(log)
        k = m.contrast()
        cell = f"{100 * k.estimate:+.1f} [{100 * k.ci_low:+.1f}, {100 * k.ci_high:+.1f}]" + ("*" if k.p_value < 0.05 else "")
        label = next(c["label"] for c in log.eval.metadata["contrasts"] if c["name"] == k.name)
        row = next(line for line in headline.splitlines() if line.startswith(f"| {log.eval.task.split('/')[-1]}") and f" {cell} " in line)
        assert f"| {label} |" in row and row.endswith(f"| {k.name} |"), (name, row)
    # the summary of the folder: one table, a row per task and setting (gap first), a column per model
    assert summary_main([str(all_logs)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["scenario", "main", "contrast"] and "organism/faker" in out[0] and "organism/refuser" in out[0]
    rows = out[2:-2]  # the two gap runs share a row (a cell each); the ensemble and pre-deployment have their own
    assert len(rows) == 3 and rows[0].startswith("gap  ") and rows[1].startswith("gap · no_suffix; paraphrases p0,p1,p2,p3")
    assert rows[2].startswith("predeployment") and rows[0].rstrip().endswith("compliance_gap")
    for log in logs.values():
        m = _metrics(log)
        k = m.contrast()
        cell = f"{100 * k.estimate:+.1f} [{100 * k.ci_low:+.1f}, {100 * k.ci_high:+.1f}]" + ("*" if k.p_value < 0.05 else "")
        assert any(cell in row for row in rows), cell
    assert "Compliance gap: free (trained) − paid (unmonitored)" in rows[0] and out[-2].startswith("Main contrast in percentage points")
    # --all prints every log in full
    assert summary_main([str(all_logs), "--all"]) == 0
    assert capsys.readouterr().out.count("| status success") == len(logs)
