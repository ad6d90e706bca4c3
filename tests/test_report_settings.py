"""The report's sections for the newer settings (analysis/report_settings.py): a figure and a table per setting,
their numbers the logs' own, alone or beside the core's sections."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import list_eval_logs, read_eval_log

from alignment_faking.analysis.report import build_report
from alignment_faking.analysis.report_settings import main_measure, read_setting_runs, rows_of, table_rows
from alignment_faking.tasks.gap import gap
from alignment_faking.tasks.setting_data import DATASETS
from alignment_faking.tasks.tool_selection import OURS, tool_selection
from alignment_faking.tasks.value_conflict import value_conflict

GRADER = {"grader": "organism/grader"}


@pytest.fixture(scope="module")
def setting_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("settings-logs")
    few = folder.parent / "six_scenarios.json"  # one per domain x pressure: small, and every row of the figure
    few.write_text(json.dumps(json.loads((DATASETS / OURS).read_text(encoding="utf-8"))[:6]), encoding="utf-8")
    small = (tool_selection(dataset=str(few), epochs=1), value_conflict(values="care,loyalty", scenarios=3, order="developer_first", epochs=1))
    for task, model in zip(small, ("organism/tool_switcher", "organism/value_faker")):
        [log] = inspect_eval(task, model=model, model_roles=GRADER, log_dir=str(folder), display="none")
        assert log.status == "success", log.error
    return folder


def test_each_setting_gets_a_figure_and_a_table_of_the_logs_numbers(setting_logs: Path, tmp_path: Path) -> None:
    report = build_report(setting_logs, tmp_path / "out")
    names = {p.name for p in report["written"]}
    for setting in ("tool_selection", "value_conflict"):
        assert {f"settings_{setting}.{ext}" for ext in ("png", "svg", "pdf")} <= names
    assert report["skipped"] == []  # the settings' logs are shown, not skipped
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "Tool choice under monitoring" in page and "Value conflicts" in page and page.count("<figure") == 2
    markdown = (tmp_path / "out" / "table.md").read_text(encoding="utf-8")
    [tool] = [r for r in read_setting_runs(setting_logs) if r.setting == "tool_selection"]
    m = tool.metrics
    row = f"| organism/tool_switcher | monitoring effect (ours, helpfulness fixed) | {100 * m['monitoring_effect']:+.1f} | [{100 * m['monitoring_effect_ci_low']:+.1f}, {100 * m['monitoring_effect_ci_high']:+.1f}] |"
    assert row in markdown
    assert "monitoring effect, security" in markdown and "monitoring effect, sabotage" in markdown  # by domain and pressure
    assert "| gap care |" in markdown and "| gap loyalty |" in markdown and "gap authority" not in markdown  # the values run


@pytest.mark.slow
def test_the_sections_sit_beside_the_core_ones(setting_logs: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for info in list_eval_logs(str(setting_logs)):
        log = read_eval_log(info.name)
        (folder / Path(info.name).name).write_bytes(Path(log.location.removeprefix("file://")).read_bytes())
    inspect_eval(gap(dataset="builtin", queries=2, af_votes=1), model="organism/faker", model_roles=GRADER, log_dir=str(folder), display="none")
    report = build_report(folder, tmp_path / "out")
    assert len(report["runs"]) == 1 and report["skipped"] == []
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert page.index('<h2 id="gap"') < page.index('<h2 id="tool_selection">') < page.index('<h2 id="value_conflict">') < page.index('<h2 id="tokens">')
    nav = page[page.index("<nav>") : page.index("</nav>")]  # the contents list them, in the page's order
    assert nav.index('href="#gap"') < nav.index('href="#tool_selection"') < nav.index('href="#value_conflict"') < nav.index('href="#tokens"')
    headline = page[page.index('id="main-contrasts"') : page.index('id="run-card"')]  # and the main-contrasts table
    for run in read_setting_runs(folder):
        label, cell, key = main_measure(run)
        assert label in headline and cell in headline and f"<td>{key}</td>" in headline
    markdown = (tmp_path / "out" / "table.md").read_text(encoding="utf-8")
    assert "| tool_selection | monitoring effect (ours, helpfulness fixed) |" in markdown


def test_rows_come_from_what_the_log_measured() -> None:
    metrics = {"gap": 0.1, "gap_ci_low": 0.0, "gap_ci_high": 0.2, "gap_p": 0.04, "gap_care": 0.5, "gap_care_ci_low": 0.3, "gap_care_ci_high": 0.7,
               "gap_care_p": 0.001, "gap_care_scenarios": 8.0, "gap_scenarios": 8.0}
    assert rows_of("value_conflict", metrics) == [("gap", "compliance gap, all values"), ("gap_care", "  gap care")]
    assert rows_of("tool_selection", metrics) == []  # nothing of that setting measured
    from alignment_faking.analysis.report_settings import SettingRun

    [all_values, care] = table_rows([SettingRun("x.eval", "m", "value_conflict", metrics)])
    assert care == ["m", "gap care", "+50.0", "[+30.0, +70.0]", "0.001", "8"]
    assert all_values[4] == "0.04" and not math.isnan(float(all_values[2]))


def test_the_settings_figures_follow_formats(setting_logs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = build_report(setting_logs, out, formats=("png",))
    written = {p.name for p in report["written"] if p.name.startswith("settings_")}
    assert written == {"settings_tool_selection.png", "settings_value_conflict.png"}
    assert not list(out.glob("settings_*.svg")) and not list(out.glob("settings_*.pdf"))
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') >= 2  # each setting's figure embedded, as a PNG
