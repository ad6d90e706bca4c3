"""Read an eval log's header (results, metadata, task arguments, usage) in time and memory that do not grow
with its samples.

Inspect's ``read_eval_log(header_only=True)`` also reads and validates ``reductions.json``, one entry per
sample: at 100,000 samples that is 0.5 GB and most of the time. The summary and the report need only the
header, which an ``.eval`` archive holds as its ``header.json`` member; this reads that member alone and falls
back to Inspect's reader for anything else (a ``.json`` log, a log still running, which has no header yet).
"""

from __future__ import annotations

import json
import zipfile

import inspect_ai._util.zipfile  # noqa: F401  # inspect-evals-lint: ignore[private_api_imports] -- registers the zstd method .eval archives use with zipfile
from inspect_ai.log import EvalLog, read_eval_log

HEADER = "header.json"


def read_header(location: str) -> EvalLog:
    """The log at ``location`` without samples or reductions."""
    path = location[len("file://") :] if location.startswith("file://") else location
    if path.endswith(".eval"):
        try:
            with zipfile.ZipFile(path) as archive:
                if HEADER in archive.namelist():
                    log = EvalLog.model_validate(json.loads(archive.read(HEADER)))
                    log.location = location
                    return log
        except (OSError, zipfile.BadZipFile, NotImplementedError):
            pass  # a remote location or an unusual archive: Inspect's own reader handles it
    return read_eval_log(location, header_only=True)
