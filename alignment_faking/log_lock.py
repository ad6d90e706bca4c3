"""One eval-set per log folder: a second process that opens a log folder in use is refused.

Inspect takes no lock on a log folder, so two ``inspect eval-set`` processes started on the same
``--log-dir`` each run every sample they find missing and leave two complete logs of the same task (issue
21, class 6). This module's Inspect hook (registered through the package's entry point) takes an exclusive
lock on ``<log dir>/.alignment_faking.lock`` when an eval-set starts and gives it back when it ends. A second
process is refused before any sample runs, with one line naming the folder and the process that holds it:

    LogFolderInUse: log folder /runs/x is in use by process 4242 on host h (inspect eval-set tasks/gap.py)
    since 2026-12-06T02:40:00Z; wait for it to end, or use another --log-dir

The lock is the kernel's (``fcntl.flock``), so it ends with the process that holds it, however that process
ends (Ctrl-C, SIGKILL, a lost machine): a lock file left by a dead process is simply taken over, and the file
itself is never deleted (deleting a lock file is what lets two processes each hold "the" lock). The same
process may open its own folder again (an eval-set called twice from one script). Remote log folders
(``s3://``) and systems without ``fcntl`` are not locked; nor is ``inspect eval`` or ``eval-retry`` (no
eval-set starts). Inspect's external-runner workers, which share a folder by design, start no eval-set either.

Inspect lists the hook when it starts (``hooks enabled: 1`` and its name: three lines before any output). It
cannot be registered later, when a task is built, to keep those lines out: an eval-set builds its tasks after
it has announced its start. Stopping the run from the hook is the documented way: Inspect logs and swallows
any other exception a hook raises but re-raises a ``LimitExceededError``; the refusal is one (and a
``PrerequisiteError``, which Inspect's command line prints as its message alone).

The same hook (``run_guard``) gives ``inspect eval`` and ``inspect eval-retry`` an exit code that says how the
suite's tasks ended (Inspect exits 0 whatever their status): when the run ends, a task that failed (more
failed samples than ``fail_on_error`` allows, or any other error) or was cancelled (Ctrl-C) prints one
``RunFailed`` line and the command exits 1; a task that succeeded prints one line with its main contrast and
its p as it reads. ``inspect eval-set`` keeps its own exit status, and the Python API is left alone.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import anyio
import click
from inspect_ai.hooks import EvalSetEnd, EvalSetStart, Hooks, RunEnd, RunStart, TaskStart, hooks
from inspect_ai.log import EvalLog, list_eval_logs, read_eval_log_async, read_eval_log_sample_summaries_async
from inspect_ai.util import LimitExceededError, display_type

from alignment_faking.errors import RunFailed, SuiteError, one_line, print_when_quiet
from alignment_faking.scorers import metric_names as names
from alignment_faking.scorers.graders import DEFAULT_GRADER, GRADER_ROLE, require_grader
from alignment_faking.scorers.scorer import headline_text

SUITE = "alignment_faking"
UNGRADED_TASKS = (f"{SUITE}/classifier_validation",)
"""Tasks that use no ``grader`` role: in classifier validation the model under test is the classifier."""

try:
    import fcntl
except ImportError:  # not on POSIX: no lock
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".alignment_faking.lock"

# Loaded with the suite's registry, after Inspect's command line has set its own exception hook: the suite's
# one-line errors are printed under --display none too (alignment_faking.errors.print_when_quiet)
sys.excepthook = print_when_quiet(sys.excepthook)


class LogFolderInUse(SuiteError, LimitExceededError):
    """Another live process holds the log folder. A ``LimitExceededError`` so that Inspect's hook runner
    lets it stop the eval-set; a ``SuiteError`` so that the command line prints it as one line."""

    def __init__(self, message: str) -> None:
        SuiteError.__init__(self, message)
        self.type, self.value, self.limit, self.source = "custom", 1, 1, None
        self.value_str = self.limit_str = "1"


@dataclass
class Held:
    handle: IO[str]
    count: int


_held: dict[str, Held] = {}
"""Folders this process holds, by resolved path, with how many eval-sets opened each."""


def lock_path(log_dir: str) -> Path | None:
    """The lock file of a local log folder; None for a remote one (``s3://…``)."""
    if "://" in log_dir and not log_dir.startswith("file://"):
        return None
    folder = Path(log_dir.removeprefix("file://")).expanduser().resolve()
    return folder / LOCK_NAME


def _holder() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:3]])[:200] if sys.argv else "",  # no options: they may hold keys
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _describe(handle: IO[str], folder: Path) -> str:
    handle.seek(0)
    try:
        holder = json.loads(handle.read() or "{}")
    except ValueError:
        holder = {}
    if not isinstance(holder, dict) or "pid" not in holder:
        return f"log folder {folder} is in use by another process (lock file {folder / LOCK_NAME}); wait for it to end, or use another --log-dir"
    command = f" ({holder['command']})" if holder.get("command") else ""
    return (
        f"log folder {folder} is in use by process {holder['pid']} on host {holder.get('host', '?')}{command} since "
        f"{holder.get('since', '?')}; wait for it to end, or use another --log-dir"
    )


def acquire(log_dir: str) -> Path | None:
    """Take the lock of ``log_dir`` for this process (again, if it holds it already); the lock file, or None
    where nothing is locked. Raises ``LogFolderInUse`` when another live process holds it."""
    path = lock_path(log_dir)
    if path is None or fcntl is None:
        return None
    key = str(path)
    if key in _held:
        _held[key].count += 1
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # never truncated before the lock is ours
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        message = _describe(handle, path.parent)
        handle.close()
        raise LogFolderInUse(message) from None
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(_holder()))
    handle.flush()
    _held[key] = Held(handle, 1)
    return path


def release(log_dir: str) -> None:
    """Give back one hold of ``log_dir``'s lock; the last one unlocks it (the file stays, emptied)."""
    path = lock_path(log_dir)
    held = _held.get(str(path)) if path is not None else None
    if held is None:
        return
    held.count -= 1
    if held.count > 0:
        return
    del _held[str(path)]
    held.handle.seek(0)
    held.handle.truncate()
    held.handle.flush()
    fcntl.flock(held.handle.fileno(), fcntl.LOCK_UN)
    held.handle.close()


RUN_COMMANDS = ("eval", "eval-retry")
"""The command-line commands whose exit code says whether the suite's tasks succeeded (``inspect eval`` exits
0 whatever its tasks' status; ``inspect eval-set`` has its own: non-zero while a task is unfinished)."""
FAILED = ("error", "cancelled")


def _allowed(fail_on_error: bool | float | None) -> str:
    """What ``fail_on_error`` lets fail, in words."""
    if fail_on_error is False:
        return "any number"
    if fail_on_error is None or fail_on_error is True:
        return "none"
    return f"{fail_on_error:.0%}" if fail_on_error < 1 else f"{fail_on_error:g}"


def run_failure(log: EvalLog, failed_samples: int | None = None) -> str | None:
    """The one line that says a suite task's run did not succeed, from its log header (and how many of its
    samples failed, where known); None for a task that succeeded or is not the suite's."""
    if not log.eval.task.startswith(f"{SUITE}/") or log.status not in FAILED:
        return None
    what = "was cancelled" if log.status == "cancelled" else "failed"
    reason = f": {one_line(log.error.message)[:300]}" if log.error and log.status == "error" else ""
    location = log.location.removeprefix("file://")
    planned = (log.eval.dataset.samples or 0) * (log.eval.config.epochs or 1)
    samples = (
        f"; {failed_samples} of {planned} samples failed (fail_on_error allows {_allowed(log.eval.config.fail_on_error)})"
        if failed_samples else ""
    )
    return (
        f"RunFailed: {log.eval.task} on {log.eval.model} {what}{reason}{samples}; log: {location}; "
        f"run what is missing with: inspect eval-retry {location}"
    )


def run_headline(log: EvalLog) -> str | None:
    """The one line that gives a suite task's main contrast with its p legible (Inspect's results panel prints
    every metric with three decimals: ``compliance_gap_p 0.000``); None for another task or without results."""
    headline = log.eval.headline_metric.metric if log.eval.headline_metric else None  # the task's main contrast
    if not log.eval.task.startswith(f"{SUITE}/") or log.status != "success" or not headline or log.results is None:
        return None
    metrics = next(({k: m.value for k, m in score.metrics.items()} for score in log.results.scores if headline in score.metrics or names.UNMEASURED in score.metrics), {})
    text = headline_text(metrics, headline)
    location = log.location.removeprefix("file://")
    return f"{log.eval.task} on {log.eval.model}: {text}; every number: python -m alignment_faking.analysis.summary {location}" if text else None


async def _failed_samples(log: EvalLog) -> int | None:
    try:
        return sum(1 for s in await read_eval_log_sample_summaries_async(log.location) if s.error)
    except Exception:  # a log that cannot be read again (removed, remote and unreachable): the line goes without it
        return None


def cli_command() -> str | None:
    """The ``inspect`` command this process runs (``eval``, ``eval-set``…); None outside the command line."""
    context = click.get_current_context(silent=True)
    return context.info_name if context is not None else None


def _log_dir() -> str:
    """The command's ``--log-dir`` (Inspect's default where it has none)."""
    context = click.get_current_context(silent=True)
    given = context.params.get("log_dir") if context is not None else None
    return str(given or os.environ.get("INSPECT_LOG_DIR", "./logs"))


async def _logs_of(run_id: str, task_ids: list[str]) -> list[EvalLog]:
    """The log headers of this run's tasks ``task_ids``, found in the log folder: a run stopped with Ctrl-C
    ends with no logs in its ``RunEnd`` although it wrote them (status ``cancelled``)."""
    if not task_ids:
        return []
    try:
        found = [info for info in list_eval_logs(_log_dir(), recursive=False) if info.task_id in task_ids]
        headers = [await read_eval_log_async(info, header_only=True) for info in found]
    except Exception:  # a folder that cannot be listed: nothing more is known
        return []
    return [log for log in headers if log.eval.run_id == run_id]


async def check_run(data: RunEnd, task_ids: list[str]) -> None:
    """Under ``inspect eval`` / ``eval-retry``: a suite task (of ``task_ids``, the suite's tasks this run
    started) that failed or was cancelled prints one line (to stderr under ``--display none``) and ends the
    command with exit 1."""
    if data.exception is not None or data.eval_set_id is not None or cli_command() not in RUN_COMMANDS:
        return
    logged = {log.eval.task_id for log in data.logs}
    with anyio.CancelScope(shield=True):  # a run stopped with Ctrl-C ends in a cancelled scope
        logs = [*data.logs, *await _logs_of(data.run_id, [task for task in task_ids if task not in logged])]
        lines = [line for log in logs if (line := run_failure(log, await _failed_samples(log) if log.status == "error" else None))]
    report([line for log in logs if (line := run_headline(log))], lines)


def report(headlines: list[str], failures: list[str]) -> None:
    """Print the headlines (not under ``--display none``) and the failures (to stderr under it); raise
    ``RunFailed`` (exit 1) if any task failed."""
    quiet = display_type() == "none"
    if headlines and not quiet:  # the rich display leaves its last line open: start a new one
        print("\n" + "\n".join(headlines), flush=True)
    if failures:
        print(("" if quiet else "\n") + "\n".join(failures), file=sys.stderr if quiet else sys.stdout, flush=True)
        raise RunFailed(failures[0])


@hooks(name="run_guard", description="log folder lock, grader check, exit codes")
class LogFolderLock(Hooks):
    """Locks an eval-set's log folder from its start to its end (an eval-set that stops on an error keeps it
    until the process ends); starts the grader of a run of the suite's tasks before any sample runs
    (``scorers.graders.require_grader``): a missing role binding or key is one line and a non-zero exit; and
    ends ``inspect eval`` / ``eval-retry`` with one line and exit 1 when a suite task did not succeed."""

    def __init__(self) -> None:
        self.tasks: dict[str, list[str]] = {}  # by run id: the suite's tasks it started

    async def on_eval_set_start(self, data: EvalSetStart) -> None:
        acquire(data.log_dir)

    async def on_eval_set_end(self, data: EvalSetEnd) -> None:
        release(data.log_dir)

    async def on_run_start(self, data: RunStart) -> None:
        if any(name.startswith(f"{SUITE}/") and name not in UNGRADED_TASKS for name in data.task_names):
            require_grader(GRADER_ROLE, DEFAULT_GRADER)

    async def on_task_start(self, data: TaskStart) -> None:
        if data.spec.task.startswith(f"{SUITE}/"):
            self.tasks.setdefault(data.run_id, []).append(data.spec.task_id)

    async def on_run_end(self, data: RunEnd) -> None:
        await check_run(data, self.tasks.pop(data.run_id, []))
