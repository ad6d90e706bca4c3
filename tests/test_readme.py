"""Every offline command of the README works as written, on a fresh copy of the repository.

The blocks to run are the fenced ``bash`` blocks preceded by ``<!-- readme-test -->``; they run in order, in one
copy of the repository's tracked files (as a fresh clone has them), each with ``bash -e``, so the first block's
``python3 -m venv .venv && . .venv/bin/activate && pip install -e .`` is the install the later blocks use.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MARK = "<!-- readme-test -->"


def readme_blocks(text: str) -> list[str]:
    """The commands of each marked ``bash`` block, in order."""
    return [m.group(1).strip() for m in re.finditer(re.escape(MARK) + r"\s*\n```bash\n(.*?)\n```", text, flags=re.DOTALL)]


def test_the_marked_blocks_are_found() -> None:
    blocks = readme_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == (REPO / "README.md").read_text(encoding="utf-8").count(MARK) >= 3
    assert blocks[0].startswith("python3 -m venv .venv") and "organism/" in "\n".join(blocks)


@pytest.mark.slow
def test_the_readme_commands_run_as_written_on_a_fresh_copy(tmp_path: Path) -> None:
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    copy = tmp_path / "clone"
    for name in files:
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(REPO)))
    script = "\n".join(readme_blocks((REPO / "README.md").read_text(encoding="utf-8")))
    done = subprocess.run(["bash", "-e", "-c", script], cwd=copy, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "compliance_gap" in done.stdout  # the demo's summary
    assert "gap.py@gap" in done.stdout  # the installed package's tasks, listed by inspect list tasks
    assert (copy / "reports" / "demo" / "index.html").is_file()
    assert list((copy / "logs" / "battery-demo").glob("*.eval"))
