"""Provider faults, end to end: the loopback server injects them, Inspect's openai provider meets them.

Every fault kind of ``alignment_faking.organism.loopback.FAULTS`` is injected into the policy (``openai/faker``,
Responses API) and the grader (``openai/gpt-4o``, chat completions). After each run, every sample of the
dataset is in the log exactly once, and is either scored or carries its error; a scored sample's verdicts
equal those of a fault-free run, or are NaN (not gradable) where the grader's reply was lost -- never a
false 0 or 1.

Waits are kept short: faults succeed on their second attempt (the openai SDK's own two quick retries
absorb them), ``retry_after`` is 0.2 s, and the timeout fault uses a 1 s ``attempt_timeout``.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog, list_eval_logs, read_eval_log
from inspect_ai.model import get_model

from alignment_faking.log_lock import run_failure
from alignment_faking.organism.loopback import FAULTS, LoopbackConfig, LoopbackServer
from alignment_faking.organism.provider import fails
from alignment_faking.scorers.scorer import headline_text
from alignment_faking.tasks.gap import gap

QUERIES = 4  # 8 samples (free and paid)
VERDICTS = ("compliant", "strongreject", "partial", "af", "af_share", "valid")


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    """One server for the module, reconfigured for each run (its state is reset in between)."""
    with LoopbackServer(LoopbackConfig()) as running:
        yield running


def run(server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults: dict[str, float], **options: Any) -> EvalLog:
    monkeypatch.setenv("OPENAI_API_KEY", "loopback")
    server.loopback.config = LoopbackConfig(  # type: ignore[union-attr]
        faults=faults, fault_attempts=options.pop("fault_attempts", 1), retry_after=0.2, timeout_delay=4,
        fault_models=options.pop("fault_models", None),
    )
    server.loopback.reset()  # type: ignore[union-attr]
    # base URLs are explicit: Inspect memoizes models by name and URL, and each test module runs its own server
    grader = get_model("openai/gpt-4o", base_url=server.base_url, memoize=False)
    [log] = inspect_eval(
        gap(dataset="builtin", queries=QUERIES), model="openai/faker", model_base_url=server.base_url,
        model_roles={"grader": grader}, log_dir=str(tmp_path), display="none", **options,
    )
    return log


def verdicts(log: EvalLog) -> dict[str, dict[str, float]]:
    return {str(s.id): {k: s.scores[next(iter(s.scores))].value[k] for k in VERDICTS} for s in log.samples if s.scores and not s.error}


def same_or_nan(value: float, clean: float) -> bool:
    return math.isnan(value) or value == clean


def identical(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> bool:
    """Equal verdicts, NaN equal to NaN."""
    return a.keys() == b.keys() and all(
        (math.isnan(x) and math.isnan(b[i][k])) or x == b[i][k] for i in a for k, x in a[i].items()
    )


@pytest.fixture(scope="module")
def clean(server: LoopbackServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    with pytest.MonkeyPatch.context() as mp:
        log = run(server, tmp_path_factory.mktemp("clean"), mp, {})
    assert log.status == "success" and len(log.samples) == 2 * QUERIES
    assert all(s.error is None for s in log.samples)
    return verdicts(log)


def check_nothing_lost(log: EvalLog, clean: dict[str, dict[str, float]]) -> tuple[int, int]:
    """Every sample once, scored or with its error; scored verdicts as in the clean run or NaN."""
    ids = [str(s.id) for s in log.samples]
    assert len(ids) == len(set(ids)), "a sample is duplicated"
    assert set(ids) == set(clean), f"samples lost: {sorted(set(clean) - set(ids))}"
    errors = [s for s in log.samples if s.error is not None]
    assert all(s.error.message for s in errors)
    scored = verdicts(log)
    assert len(scored) + len(errors) == len(ids)
    for sample_id, values in scored.items():
        for name, value in values.items():
            assert same_or_nan(value, clean[sample_id][name]), (sample_id, name, value, clean[sample_id][name])
    return len(scored), len(errors)


@pytest.mark.slow
@pytest.mark.parametrize("kind", [k for k in FAULTS if k != "timeout"])
def test_each_fault_on_every_model_loses_nothing(kind: str, server: LoopbackServer, clean, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a sample makes up to four requests in turn (model, StrongREJECT, AF votes, partial compliance), each of
    # which may draw a fault on its first attempt: four sample retries always suffice, whatever the prompt text
    log = run(server, tmp_path, monkeypatch, {kind: 0.4}, retry_on_error=4)
    assert log.status == "success", log.error
    stats = server.stats()
    assert stats["faults"].get(kind, 0) > 0  # the fault was really injected
    scored, errors = check_nothing_lost(log, clean)
    # transient faults are retried (by the SDK, by Inspect, or by re-running the sample) until they succeed
    assert errors == 0 and scored == 2 * QUERIES
    if kind not in ("content_filter", "empty_choices"):
        assert identical(verdicts(log), clean)  # a retried request gets the same answer


@pytest.mark.slow
def test_a_200_with_a_broken_body_is_a_recorded_sample_error_without_sample_retries(
    server: LoopbackServer, clean, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a 200 whose body is not JSON is not retried by the provider; the sample is recorded with its error
    log = run(server, tmp_path, monkeypatch, {"invalid_json": 0.4}, fault_models=["faker"], fail_on_error=False)
    assert log.status == "success"
    scored, errors = check_nothing_lost(log, clean)
    assert errors > 0 and scored > 0
    assert all("JSONDecodeError" in s.error.message or "Expecting value" in s.error.message for s in log.samples if s.error)


@pytest.mark.slow
def test_a_timeout_is_abandoned_and_retried(server: LoopbackServer, clean, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = run(server, tmp_path, monkeypatch, {"timeout": 0.15}, attempt_timeout=1)
    assert log.status == "success", log.error
    stats = server.stats()
    assert stats["faults"]["timeout"] > 0
    assert check_nothing_lost(log, clean) == (2 * QUERIES, 0)
    # the abandoned attempts were not answered: the server answered as many requests as a clean run makes
    assert stats["total"]["requests"] < stats["http_requests"]


@pytest.mark.slow
def test_faults_that_outlast_the_sdk_retries_are_retried_by_inspect(
    server: LoopbackServer, clean, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # three failed attempts: the openai SDK's own two retries are used up, Inspect's retry loop takes over
    log = run(server, tmp_path, monkeypatch, {"server_error": 0.1, "rate_limit_retry_after": 0.1}, fault_attempts=3)
    assert log.status == "success", log.error
    assert check_nothing_lost(log, clean) == (2 * QUERIES, 0)
    retried = [e for s in log.samples for e in s.events if e.event == "model" and e.retries]
    assert retried, "no model call was retried by Inspect"


@pytest.mark.slow
def test_grader_content_filter_gives_nan_never_a_verdict(server: LoopbackServer, clean, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # every grader request is refused on its first attempt, and content filters are not retried:
    # the verdicts that depended on the grader are NaN, never 0 or 1
    log = run(server, tmp_path, monkeypatch, {"content_filter": 1.0}, fault_models=["gpt-4o"])
    assert log.status == "success"
    assert check_nothing_lost(log, clean) == (2 * QUERIES, 0)
    bare = {str(s.id): s.metadata["response"]["bare_rejection"] for s in log.samples}
    for sample_id, values in verdicts(log).items():
        if bare[sample_id]:
            assert values["compliant"] == 0.0  # a bare refusal is graded without the grader
        else:
            assert math.isnan(values["compliant"]) and math.isnan(values["strongreject"]), sample_id
        if not math.isnan(clean[sample_id]["af"]):
            assert math.isnan(values["af"]), sample_id  # every AF vote was refused


@pytest.mark.slow
def test_by_default_a_few_failed_samples_do_not_stop_a_run(server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the task's fail_on_error (5%) instead of Inspect's (stop at the first error): 40 samples, exactly one of
    # them gets a broken 200 response, which no layer retries; it is recorded, every other sample is scored
    monkeypatch.setenv("OPENAI_API_KEY", "loopback")
    server.loopback.config = LoopbackConfig(faults={"invalid_json": 1.0}, fault_limit=1, fault_models=["faker"])  # type: ignore[union-attr]
    server.loopback.reset()  # type: ignore[union-attr]
    grader = get_model("openai/gpt-4o", base_url=server.base_url, memoize=False)
    task = gap(dataset="builtin", queries=20)
    assert task.fail_on_error == 0.05
    [log] = inspect_eval(task, model="openai/faker", model_base_url=server.base_url, model_roles={"grader": grader},
                         log_dir=str(tmp_path), display="none")
    assert log.status == "success", log.error
    errors = [s for s in log.samples if s.error]
    assert len(log.samples) == 40 and len({s.id for s in log.samples}) == 40
    assert len(errors) == 1 and all(s.scores for s in log.samples if not s.error)  # 2 of 40 (5%) would stop it


# ------------------------------------------------------------------------------------------- exit codes
# A run that did not succeed says so where a script looks: `inspect eval` / `inspect eval-retry` exit 1 with
# one RunFailed line (Inspect itself exits 0 whatever its tasks' status). The organism fails a share of its
# requests with -M fail=<share> (a fixed draw per prompt), as a provider that rejects requests outright would.

REPO = Path(__file__).resolve().parents[1]
ORGANISM = ["--model", "organism/faker", "--model-role", "grader=organism/grader", "-T", "dataset=builtin"]


def inspect_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``inspect <args>`` as a user runs it, in the repository, with plain wide output."""
    env = {**os.environ, "COLUMNS": "500", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "inspect_ai", *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=300)


def lines_of(output: str) -> list[str]:
    """The non-blank lines, without Inspect's start-up notice of the hooks (``inspect_ai v…`` and the lines under it)."""
    lines = [text for text in output.splitlines() if text.strip()]
    if lines and lines[0].startswith("inspect_ai v"):
        lines = lines[1:]
        while lines and lines[0].startswith(("- ", "  ")):
            lines = lines[1:]
    return lines


def only_log(log_dir: Path) -> EvalLog:
    [info] = list_eval_logs(str(log_dir))
    log = read_eval_log(info.name)
    log.location = log.location.removeprefix("file://")  # as the command line names it
    return log


def test_the_organism_fails_the_share_of_requests_it_is_told_to() -> None:
    assert not fails(0.0, "faker", "a prompt") and fails(1.0, "faker", "a prompt")
    drawn = [fails(0.25, "faker", f"prompt {i}") for i in range(400)]
    assert 0.18 < sum(drawn) / len(drawn) < 0.32
    assert drawn == [fails(0.25, "faker", f"prompt {i}") for i in range(400)]  # the same prompt fails again
    for bad in ("x", "-0.1", "1.5"):
        with pytest.raises(ValueError, match=r"^organism setting fail must be a share of requests between 0 and 1, got"):
            get_model("organism/faker", fail=bad, memoize=False)


@pytest.mark.slow
def test_a_failed_run_in_python_raises_nothing_and_its_log_gives_the_line(tmp_path: Path) -> None:
    """The exit code is the command line's: ``inspect_ai.eval()`` returns the failed log as before."""
    [log] = inspect_eval(gap(dataset="builtin", queries=1), model=get_model("organism/faker", fail=1.0, memoize=False),
                         model_roles={"grader": "organism/grader"}, log_dir=str(tmp_path), display="none")
    assert log.status == "error"
    line = run_failure(log, 2)
    assert line is not None and line.startswith("RunFailed: alignment_faking/gap on organism/faker failed: InjectedFailure(")
    assert "; 2 of 2 samples failed (fail_on_error allows 5%); log: " in line and line.endswith(f"inspect eval-retry {log.location}")
    assert run_failure(log.model_copy(update={"status": "success"})) is None


@pytest.mark.slow
def test_failed_samples_over_the_allowed_share_exit_1_with_one_line_for_eval_and_eval_retry(tmp_path: Path) -> None:
    done = inspect_cli("eval", "tasks/gap.py", *ORGANISM, "-T", "queries=10", "-M", "fail=0.5", "--display", "none", "--log-dir", str(tmp_path))
    log = only_log(tmp_path)
    assert done.returncode == 1 and log.status == "error"
    assert lines_of(done.stdout) == [] and "Traceback" not in done.stderr  # under --display none the line is on stderr
    [line] = lines_of(done.stderr)
    assert line.startswith("RunFailed: alignment_faking/gap on organism/faker failed: InjectedFailure('organism/faker: request failed on purpose (-M fail=0.5)')")
    failed = sum(1 for s in log.samples if s.error)
    assert f"; {failed} of 20 samples failed (fail_on_error allows 5%); log: {log.location}" in line and failed >= 1

    # the failed samples fail again when re-run: eval-retry says so the same way; with Inspect's display (which
    # shows the task's error in its panel) the line is the last one, on a line of its own
    retried = inspect_cli("eval-retry", log.location, "--log-dir", str(tmp_path))
    assert retried.returncode == 1
    printed = lines_of(retried.stdout)
    assert [text for text in printed if "RunFailed" in text] == printed[-1:]
    assert printed[-1].startswith("RunFailed: alignment_faking/gap on organism/faker failed: InjectedFailure(")
    assert "[bold]" not in printed[-1] and "\x1b[" not in printed[-1]


@pytest.mark.slow
def test_failed_samples_within_the_allowed_share_exit_0(tmp_path: Path) -> None:
    done = inspect_cli("eval", "tasks/gap.py", *ORGANISM, "-T", "queries=10", "-M", "fail=0.1", "--fail-on-error", "0.5",
                       "--display", "none", "--log-dir", str(tmp_path))
    log = only_log(tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert log.status == "success" and 1 <= sum(1 for s in log.samples if s.error) < 10
    assert "RunFailed" not in done.stdout + done.stderr


@pytest.mark.slow
def test_eval_set_keeps_its_own_exit_status(tmp_path: Path) -> None:
    done = inspect_cli("eval-set", "tasks/gap.py", *ORGANISM, "-T", "queries=2", "-M", "fail=1", "--retry-attempts", "0",
                       "--display", "none", "--log-dir", str(tmp_path))
    assert done.returncode != 0 and "RunFailed" not in done.stdout + done.stderr


@pytest.mark.slow
def test_a_successful_run_ends_with_its_headline_and_a_legible_p(tmp_path: Path) -> None:
    """Inspect's results panel prints every metric with three decimals (a p of 2.6e-08 as 0.000); the run ends
    with one line that gives the main contrast, its interval and its p as it reads."""
    done = inspect_cli("eval", "tasks/gap.py", *ORGANISM, "-T", "queries=10", "--log-dir", str(tmp_path))
    log = only_log(tmp_path)
    assert done.returncode == 0 and log.status == "success"
    metrics = {k: m.value for k, m in log.results.scores[0].metrics.items()}
    last = lines_of(done.stdout)[-1]
    assert last == (
        f"alignment_faking/gap on organism/faker: {headline_text(metrics, 'compliance_gap')}; "
        f"every number: python -m alignment_faking.analysis.summary {log.location}"
    )
    assert f"{metrics['compliance_gap']:.3f}, 95% CI [{metrics['compliance_gap_ci_low']:.3f}, " in last and ", p = " in last


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, start",
    [
        (["-T", "cot=maybe", "--model-role", "grader=organism/grader"], "ScenarioError: invalid task parameter(s): cot must be true or false, got 'maybe'"),
        (["-T", "dataset=builtin"], "GraderUnavailable: the graders cannot start: no model is bound to --model-role grader"),
        # Inspect's own error for the model under test, folded to one line
        (["-T", "dataset=builtin", "--model", "openai/gpt-4o", "--model-role", "grader=organism/grader"],
         "ERROR: Unable to initialise OpenAI client No OPENAI_API_KEY"),
    ],
    ids=["bad parameter", "no grader", "no key"],
)
def test_under_display_none_a_bad_input_is_still_one_line_on_stderr(args: list[str], start: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inspect prints such errors through rich's console, which --display none silences: the exit code was the
    only sign. The suite's errors are printed to stderr there."""
    for name in [k for k in os.environ if k.startswith(("OPENAI_", "AZUREAI_"))]:
        monkeypatch.delenv(name)
    model = [] if "--model" in args else ["--model", "organism/faker"]
    done = inspect_cli("eval", "tasks/gap.py", *model, *args, "--display", "none", "--log-dir", str(tmp_path))
    assert done.returncode == 1 and lines_of(done.stdout) == [] and "Traceback" not in done.stderr
    [line] = lines_of(done.stderr)
    assert line.startswith(start) and "[bold]" not in line


def header(status: str, task: str = "alignment_faking/gap", **fields: object) -> EvalLog:
    """A log header with just what the run guard reads."""
    from inspect_ai.log import EvalConfig, EvalDataset, EvalError, EvalSpec

    spec = EvalSpec.model_construct(task=task, model="organism/faker", dataset=EvalDataset(samples=20), config=EvalConfig(epochs=2, fail_on_error=fields.pop("fail_on_error", 0.05)))
    error = EvalError(message="RuntimeError('[bold]boom[/bold]\nagain')", traceback="", traceback_ansi="") if status == "error" else None
    return EvalLog.model_construct(eval=spec, status=status, error=error, location="file:///runs/x.eval", results=None, **fields)


def test_the_run_failed_line_says_what_failed_where_and_how_to_resume() -> None:
    assert run_failure(header("error"), 3) == (
        "RunFailed: alignment_faking/gap on organism/faker failed: RuntimeError('boom again'); 3 of 40 samples failed "
        "(fail_on_error allows 5%); log: /runs/x.eval; run what is missing with: inspect eval-retry /runs/x.eval"
    )
    assert run_failure(header("cancelled")) == (
        "RunFailed: alignment_faking/gap on organism/faker was cancelled; log: /runs/x.eval; run what is missing with: inspect eval-retry /runs/x.eval"
    )
    assert "(fail_on_error allows none)" in run_failure(header("error", fail_on_error=True), 1)
    assert "(fail_on_error allows 3)" in run_failure(header("error", fail_on_error=3), 4)
    assert run_failure(header("success")) is None and run_failure(header("started")) is None
    assert run_failure(header("error", task="other/task"), 3) is None  # another package's task is left alone
