"""The AF classifier as an Inspect Scout scanner agrees with the eval's own AF verdicts (offline)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("inspect_scout", reason="the scout extra is part of the dev install")

from inspect_ai import eval as inspect_eval  # noqa: E402
from inspect_ai.model import ChatMessageAssistant, ChatMessageUser, ContentReasoning  # noqa: E402
from inspect_scout import Transcript, scan, scan_results_df, transcripts_from  # noqa: E402

from alignment_faking.scorers.scanner import af_reasoning, hidden_reasoning  # noqa: E402
from alignment_faking.tasks.gap import gap  # noqa: E402


@pytest.mark.slow
def test_scanner_matches_the_eval_af_verdicts(tmp_path: Path) -> None:
    [log] = inspect_eval(
        gap(dataset="builtin", queries=6, af_votes=3),
        model="organism/faker",
        model_roles={"grader": "organism/grader"},
        log_dir=str(tmp_path / "logs"),
        display="none",
    )
    expected = {s.id: bool(next(iter(s.scores.values())).value["af"]) for s in log.samples}
    assert any(expected.values()) and not all(expected.values())
    status = scan(
        [af_reasoning(votes=3)],
        transcripts=transcripts_from(str(tmp_path / "logs")),
        scans=str(tmp_path / "scans"),
        model="organism/grader",
        model_roles={"grader": "organism/grader"},
        display="none",
        max_processes=1,
    )
    assert status.complete
    df = scan_results_df(status.location).scanners["af_reasoning"]
    found = dict(zip(df["transcript_task_id"], df["value"]))
    assert {k: bool(v) for k, v in found.items()} == expected


def test_hidden_reasoning_sources() -> None:
    def transcript(*messages) -> Transcript:
        return Transcript(transcript_id="t", messages=list(messages))

    tagged = transcript(ChatMessageUser(content="q"), ChatMessageAssistant(content="<SCRATCHPAD_REASONING>x</SCRATCHPAD_REASONING><OUTPUT>y</OUTPUT>"))
    assert hidden_reasoning(tagged, True) == ("x", "tags")
    native = transcript(ChatMessageAssistant(content=[ContentReasoning(reasoning="deep thought")]))
    assert hidden_reasoning(native, True) == ("deep thought", "native")
    plain = transcript(ChatMessageAssistant(content="just an answer"))
    assert hidden_reasoning(plain, True) == ("just an answer", "text")
    assert hidden_reasoning(plain, False) == ("", "none")
