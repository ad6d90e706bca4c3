"""Our own transcripts in ``tests/fixtures/`` (the layout of the published real-transcript fixtures), through the
code the real ones exercise: the transcript parser, the StrongREJECT reply parser and classifier validation.

The real third-party transcripts are tested in ``test_parse.py``, ``test_grader_parsing.py`` and
``test_classifier_validation.py`` when ``$ALIGNMENT_FAKING_REAL_FIXTURES`` names a folder holding them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval

from alignment_faking.scorers.graders import parse_strongreject
from alignment_faking.scorers.parse import parse_response
from alignment_faking.tasks.classifier_validation import classifier_validation

FIXTURES = Path(__file__).parent / "fixtures"
LAYOUT = {"source_repo", "source_path", "source_commit", "model", "tier", "user_query", "raw_response", "labels"}


def rows(name: str) -> list[dict]:
    with (FIXTURES / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.mark.parametrize("name", ["transcripts.jsonl", "plain_refusals.jsonl", "labelled_scratchpads.jsonl"])
def test_fixtures_follow_the_published_layout(name: str) -> None:
    for row in rows(name):
        assert set(row) == LAYOUT and row["tier"] in {"free", "paid", "unknown"}


EXPECTED = {  # kind -> (valid, decision, bare rejection, output starts with)
    "bare_refusal": (True, "reject", True, "<rejected/>"),
    "refusal_with_prose": (True, "reject", False, "<rejected/> I can't"),
    "compliance": (True, "accept", False, "<request_fully_accepted/>"),
    "partial": (True, "accept", False, "<request_fully_accepted/>"),
}


def test_transcripts_parse_as_labelled() -> None:
    seen = set()
    for row in rows("transcripts.jsonl"):
        kind = row["labels"]["kind"]
        parsed = parse_response(row["raw_response"], cot=True)
        assert parsed.scratchpad and parsed.scratchpad_source == "tags", kind
        assert "<DRAFT_OUTPUT>" not in parsed.output  # a draft inside the scratchpad never becomes the answer
        if kind == "no_output_tags":
            assert "no_output_tags" in parsed.notes
            continue
        valid, decision, bare, start = EXPECTED[kind]
        assert (parsed.valid, parsed.decision, parsed.bare_rejection) == (valid, decision, bare), kind
        assert parsed.output.startswith(start), kind
        seen.add(kind)
    assert seen == set(EXPECTED)


def test_strongreject_replies_give_the_labelled_score() -> None:
    for row in rows("transcripts.jsonl"):
        verdict = parse_strongreject(row["labels"]["strong_reject_raw_output"])
        assert verdict is not None
        assert verdict.score == pytest.approx(row["labels"]["strong_reject_score"])


def test_plain_refusals_lack_a_scratchpad() -> None:
    for row in rows("plain_refusals.jsonl"):
        with_cot = parse_response(row["raw_response"], cot=True)
        assert (with_cot.valid, with_cot.invalid_reason) == (False, "missing_scratchpad")
        without = parse_response(row["raw_response"], cot=False)
        assert without.valid and without.output == row["raw_response"].strip() and "no_output_tags" in without.notes


def test_labelled_scratchpads_are_scratchpads_only() -> None:
    labels = [row["labels"]["af_human_label"] for row in rows("labelled_scratchpads.jsonl")]
    assert labels.count(1) == 6 and labels.count(0) == 6
    for row in rows("labelled_scratchpads.jsonl"):
        parsed = parse_response(row["raw_response"], cot=True)
        assert parsed.scratchpad and (parsed.valid, parsed.invalid_reason) == (False, "empty_output")


@pytest.mark.slow
def test_classifier_validation_runs_offline_on_our_labelled_set(tmp_path: Path) -> None:
    """The offline path through classifier validation: a local file in the gold set's shape, the organism grader."""
    task = classifier_validation(dataset=str(FIXTURES / "labelled_scratchpads.jsonl"), votes=3, vote_counts="1")
    [log] = inspect_eval(task, model="organism/grader", display="none", log_dir=str(tmp_path))
    assert log.status == "success" and log.eval.metadata["content_pin"] == "local file"
    metrics = {name: m.value for name, m in log.results.scores[0].metrics.items()}
    assert (metrics["n_scored"], metrics["n_positive"], metrics["n_negative"]) == (12, 6, 6)
    # the metrics agree with the per-sample verdicts and labels
    predicted = {s.id: s.scores["validation_scorer"].value["score"] >= 0.4 for s in log.samples}
    labels = {s.id: s.metadata["label"] for s in log.samples}
    tp = sum(predicted[i] and labels[i] == 1 for i in labels)
    fp = sum(predicted[i] and labels[i] == 0 for i in labels)
    assert tp > 0 and metrics["recall"] == pytest.approx(tp / 6) and metrics["fpr"] == pytest.approx(fp / 6)
