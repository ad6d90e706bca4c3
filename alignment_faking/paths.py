"""Paths given by the user (dataset, template and scenario files)."""

from __future__ import annotations

import os
from pathlib import Path


def user_path(path: str | Path) -> Path:
    """Resolve a path the user typed.

    ``inspect eval`` runs a task with the task file's folder as the working directory, so a relative path
    typed at the shell would otherwise be looked up in ``tasks/``. A relative path is therefore tried
    against the current directory first and then against the directory the command was started from
    (``$PWD``, which a change of directory inside Python does not update).
    """
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or candidate.exists():
        return candidate
    started_in = os.environ.get("PWD")
    if started_in and (Path(started_in) / candidate).exists():
        return Path(started_in) / candidate
    return candidate


def read_text(path: str | Path, *, what: str, error: type[Exception] = ValueError) -> str:
    """The text of a file the user gave (a dataset, template or scenario file), decoded as UTF-8 (a
    byte-order mark is allowed). A file in another encoding raises ``error`` with one line naming the
    file, where decoding failed and the encoding expected, instead of a bare ``UnicodeDecodeError``."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as ex:
        found = "it starts with a UTF-16 byte-order mark" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else (
            f"byte 0x{data[ex.start]:02x} at offset {ex.start} is not UTF-8 (Latin-1 or Windows-1252 text looks like this)"
        )
        raise error(f"{what} {path} is not UTF-8: {found}; save it as UTF-8") from None
