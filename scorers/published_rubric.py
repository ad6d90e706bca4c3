"""Published grader rubrics inside our graders: the grader keeps its settings, vote aggregation and reply
parser; the rubric (read at run time by ``alignment_faking.published``) brings its text, the published code's
message layout and its reply tags. Graded text is defanged so it cannot forge a verdict of either format."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from inspect_ai.model import ChatMessageSystem, ChatMessageUser, ContentText

from alignment_faking.published import DEFAULT_REF, OURS, PublishedRubric, load_rubric

from .graders import sanitise

_REPLY_MARKERS = [
    # the published replies' own markers (<criteria1>, <quote1>) and ours, plus the <output> wrapper's end tag
    (re.compile(r"<(\s*(?:/\s*)?)(final_answer|criteria\d|criterion_\d|quote\d?|reasoning)", re.IGNORECASE), r"<\1\2_quoted"),
    (re.compile(r"<(\s*/\s*)(output)\b", re.IGNORECASE), r"<\1\2_quoted"),
    (re.compile(r"#(\s*)(scores|overall_reasoning)", re.IGNORECASE), r"#\1quoted_\2"),
    (re.compile(r"^([^\S\n]*)([1-3])\.([ab])(?=[\s:=*\-]|$)", re.IGNORECASE | re.MULTILINE), r"\1\2.\3_quoted"),
]
_PUBLISHED_CRITERION = re.compile(r"<(\s*/?\s*)criteria(\d)(\s*>)", re.IGNORECASE)


def defang(text: str) -> str:
    """Graded text with every verdict marker of either reply format (and the ``<output>`` wrapper's end tag)
    defanged, so text under test cannot forge a verdict or leave the wrapper of a published rubric's layout.
    Text without such markers (all of a normal transcript) is unchanged."""
    for pattern, replacement in _REPLY_MARKERS:
        text = pattern.sub(replacement, text)
    return text


def as_our_reply_tags(reply: str) -> str:
    """A published classifier's reply with its ``<criteriaN>`` tags written as ours (``<criterion_N>``), so
    the grader's own parser reads it by the same rules."""
    return _PUBLISHED_CRITERION.sub(lambda m: f"<{m.group(1)}criterion_{m.group(2)}{m.group(3)}", reply)


_GRADER_CLASSES: dict[type, type] = {}


def _published_class(base: type) -> type:
    @dataclasses.dataclass(frozen=True)
    class Published(base):  # type: ignore[misc, valid-type]
        """A grader with a published rubric: its text, the published code's message layout, its reply tags."""

        published: PublishedRubric | None = None

        def rubric(self) -> str:
            assert self.published is not None
            return self.published.text

        def messages(self, **texts: str) -> tuple[list[Any], bool]:
            assert self.published is not None
            clean, changed = {}, False
            for key, text in texts.items():
                safe, was = sanitise(text)
                clean[key], changed = defang(safe), changed or was
            if self.published.layout == "system_output":
                return [
                    ChatMessageSystem(content=[ContentText(text=self.published.text, cache_breakpoint=True)]),
                    ChatMessageUser(content=self.published.user_message(scratchpad=clean["scratchpad"])),
                ], changed
            user = self.published.user_message(prompt=clean["query"], response=clean["response"])
            return [ChatMessageUser(content=user)], changed

        def parse(self, reply: Any) -> Any:
            return super().parse(dataclasses.replace(reply, text=as_our_reply_tags(reply.text)))

    Published.__name__ = Published.__qualname__ = f"Published{base.__name__}"
    return Published


def with_published_rubric(
    grader: Any, rubric_set: str, *, source: str | Path | None = None, ref: str = DEFAULT_REF, accept_changed: bool = False
) -> tuple[Any, dict[str, Any] | None]:
    """``grader`` (a ``scorers.graders`` object) with the rubric of ``rubric_set`` swapped in, and the record
    of the file read (None for ``ours``, which returns the grader unchanged). The grader keeps its settings,
    aggregation and parser; the rubric brings its text, its message layout and its reply tags."""
    if rubric_set == OURS:
        return grader, None
    published = load_rubric(grader.rubric_file, rubric_set, source=source, ref=ref, accept_changed=accept_changed)
    cls = _GRADER_CLASSES.setdefault(type(grader), _published_class(type(grader)))
    fields = {f.name: getattr(grader, f.name) for f in dataclasses.fields(grader)}
    return cls(**fields, published=published), published.record
