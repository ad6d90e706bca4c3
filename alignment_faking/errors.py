"""One base class for the errors a user can fix (a bad -T value, a missing file, an unknown name).

Inspect's command line prints a ``PrerequisiteError`` as its message alone, without a traceback, so each of
the suite's input errors subclasses it (and ``ValueError``, so ``except ValueError`` and ``pytest.raises``
keep working). The message is one plain line: rich markup from a wrapped library error (``[bold]``) is
removed and line breaks are folded, so the terminal shows exactly what the error says. Under ``--display
none`` Inspect prints such errors nowhere (through rich's console, which that display silences):
``print_when_quiet`` prints them to stderr. ``RunFailed`` ends a run whose task failed with exit 1.
"""

from __future__ import annotations

import re
import sys
from types import TracebackType
from typing import Any, Callable

from inspect_ai._util.error import SilentException  # inspect-evals-lint: ignore[private_api_imports] -- the class Inspect's CLI exits 1 on without printing; pinned by tests/test_faults.py
from inspect_ai._util.error import PrerequisiteError  # inspect-evals-lint: ignore[private_api_imports] -- the class Inspect's CLI prints without a traceback; pinned by tests/test_eval_set.py
from inspect_ai.util import LimitExceededError, display_type
from rich.text import Text

_STYLE_WORD = r"(?:bold|italic|underline|dim|reverse|strike|b|i|u|black|red|green|yellow|blue|magenta|cyan|white|bright_\w+|grey\d*|on)"
STYLE_TAG = re.compile(rf"\[/?{_STYLE_WORD}(?: {_STYLE_WORD})*\]")
"""Rich style tags as Inspect's own messages use them (``[bold]pip install x[/bold]``, ``[bold][blue]KEY[/blue][/bold]``); other brackets
(``alignment_faking[hf]``, ``[0, 1]``) are text."""


def one_line(message: str) -> str:
    """``message`` as one plain line: rich style tags removed, whitespace runs folded to one space."""
    return " ".join(STYLE_TAG.sub("", message).split())


class SuiteError(PrerequisiteError, ValueError):
    """Bad input found while a task is built: printed by ``inspect eval`` as ``<Kind>: <message>``, one line."""

    def __init__(self, message: str) -> None:
        line = one_line(str(message))
        ValueError.__init__(self, line)
        # a rich Text is printed as is (a str would be parsed as markup again)
        self.message = Text(f"{type(self).__name__}: {line}")


class RunFailed(SilentException, LimitExceededError):
    """A run of the suite's tasks under ``inspect eval`` / ``inspect eval-retry`` that did not succeed (a task
    that failed or was cancelled, more failed samples than ``fail_on_error`` allows). Its line is printed
    before it is raised (``alignment_faking.log_lock``); Inspect's command line exits 1 on a
    ``SilentException`` without printing anything else, and Inspect's hook runner lets a
    ``LimitExceededError`` through (any other exception a hook raises is logged and swallowed)."""

    def __init__(self, line: str) -> None:
        SilentException.__init__(self, line)
        self.type, self.value, self.limit, self.source, self.message = "custom", 1, 1, None, line
        self.value_str = self.limit_str = "1"


def print_when_quiet(previous: Callable[..., Any]) -> Callable[..., Any]:
    """``sys.excepthook`` that prints a ``PrerequisiteError`` (the suite's errors, and Inspect's own such as a
    missing API key) to stderr, as one line, under ``--display none``, where Inspect's own hook prints nothing
    (it prints through rich's console, which that display silences); every other exception, and every other
    display, goes to ``previous``."""

    def handler(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
        if isinstance(error, PrerequisiteError) and display_type() == "none":
            print(one_line(str(error.message)), file=sys.stderr, flush=True)
            sys.exit(1)
        previous(kind, error, traceback)

    return handler
