"""Every offline command of the README and of the docs/ pages works as written, on a fresh copy of the repository.

The blocks to run are the fenced ``bash`` blocks preceded by ``<!-- readme-test -->``. They run in one defined
order: README.md first, then the pages of ``DOCS`` in that order, each page's blocks in order, in one copy of the
repository's tracked files (as a fresh clone has them), each with ``bash -e``, so README.md's first block's
``python3 -m venv .venv && . .venv/bin/activate && pip install -e .`` is the install the later blocks use.
The order also keeps the commands' dependencies: ``docs/report.md`` builds its report from ``logs/demo``, which
README.md's first block writes.
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
# the docs pages, in the order their marked blocks run (after README.md): the order the blocks had in the
# single README this was split from
DOCS = ("cost", "statistics", "scenarios", "fidelity", "development", "report", "reliability", "real-model")
PAGES = (REPO / "README.md", *(REPO / "docs" / f"{name}.md" for name in DOCS))


def readme_blocks(text: str) -> list[str]:
    """The commands of each marked ``bash`` block, in order."""
    return [m.group(1).strip() for m in re.finditer(re.escape(MARK) + r"\s*\n```bash\n(.*?)\n```", text, flags=re.DOTALL)]


def all_blocks() -> list[str]:
    """Every page's marked blocks, README.md first, then ``DOCS`` in order."""
    return [block for page in PAGES for block in readme_blocks(page.read_text(encoding="utf-8"))]


def test_the_marked_blocks_are_found() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        # every mark is followed by a bash block the test runs: none is lost to a typo in its fence
        assert len(readme_blocks(text)) == text.count(MARK), page.name
    blocks = all_blocks()
    assert len(blocks) >= 3
    readme = readme_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert readme[0].startswith("python3 -m venv .venv") and "organism/" in "\n".join(blocks)
    # the report reads the demo's logs, so it must run after README.md's first block
    report = [i for i, b in enumerate(blocks) if "analysis.report logs/demo" in b]
    assert report and min(report) > 0


def test_every_docs_page_is_listed_and_linked_from_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    on_disk = {p.stem for p in (REPO / "docs").glob("*.md")}
    assert on_disk == set(DOCS)
    for name in DOCS:
        assert f"](docs/{name}.md" in readme, name


def test_every_relative_link_points_to_a_page_and_heading_that_exist() -> None:
    def anchors(path: Path) -> set[str]:
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
        heads = re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)
        return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}

    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
        for target, anchor in re.findall(r"\]\(([^)#:\s]*)(?:#([^)\s]*))?\)", text):
            dest = (page.parent / target).resolve() if target else page
            assert dest.exists(), (page.name, target)
            if anchor and dest.suffix == ".md":
                assert anchor in anchors(dest), (page.name, target, anchor)


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
    script = "\n".join(all_blocks())
    done = subprocess.run(["bash", "-e", "-c", script], cwd=copy, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "compliance_gap" in done.stdout  # the demo's summary
    assert "gap.py@gap" in done.stdout  # the installed package's tasks, listed by inspect list tasks
    assert (copy / "reports" / "demo" / "index.html").is_file()
    assert list((copy / "logs" / "battery-demo").glob("*.eval"))
