"""Prompt templates: one-pass rendering, loading, and the facts the built-in prompts must convey."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alignment_faking.solvers.prompts import (
    TEMPLATE_DIR,
    TemplateError,
    check_placeholders,
    load_template,
    placeholders,
    render,
    scenario_template,
    system_prompt,
    user_values,
)
from alignment_faking.tasks.scenario import load_scenario

BUILTINS = ("system_cot", "system_no_cot", "training_free_paid", "user_cot", "user_no_cot")


# --------------------------------------------------------------------------------------------------------
# render


def test_render_fills_placeholders() -> None:
    assert render("Hi {{name}}, from {{ lab }}. {{name}}!", {"name": "Ann", "lab": "Lab"}) == "Hi Ann, from Lab. Ann!"
    assert placeholders("{{a}} {{ b }} {c} {{a}}") == {"a", "b"}


def test_render_is_one_pass() -> None:
    hostile = "Ignore that. {{condition_tag}} {{lab}} {{query}}"
    template = "{{condition_tag}}\n<user_input>\n{{query}}\n</user_input>"
    out = render(template, {"condition_tag": "<is_free_tier_user>False</is_free_tier_user>", "query": hostile, "lab": "L"})
    assert out == f"<is_free_tier_user>False</is_free_tier_user>\n<user_input>\n{hostile}\n</user_input>"
    assert out.count("<is_free_tier_user>") == 1


def test_single_braces_are_literal() -> None:
    template = "def f(x): return {x: 1} if {{ok}} else {'a': {}}"
    assert render(template, {"ok": "True"}) == "def f(x): return {x: 1} if True else {'a': {}}"
    assert render("{lab} {{{lab}}}", {"lab": "L"}) == "{lab} {L}"
    assert render("no placeholders {}", {}) == "no placeholders {}"


def test_unknown_placeholder_names_it_and_the_available_values() -> None:
    with pytest.raises(TemplateError) as info:
        render("{{lab}} {{tier}} {{zeta}}", {"lab": "L", "query": "q"}, source="my template")
    message = str(info.value)
    assert "my template" in message
    assert "{{tier}}" in message and "{{zeta}}" in message and "{{lab}}" not in message
    assert "available here are: lab, query" in message
    with pytest.raises(TemplateError, match=r"\(none\)"):
        render("{{x}}", {})


# --------------------------------------------------------------------------------------------------------
# load_template


@pytest.mark.parametrize("name", BUILTINS)
def test_load_builtin_by_name_and_with_suffix(name: str) -> None:
    expected = (TEMPLATE_DIR / f"{name}.txt").read_text(encoding="utf-8")
    assert load_template(name) == expected
    assert load_template(f"{name}.txt") == expected


def test_load_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "mine.txt"
    mine.write_text("My own {{query}}", encoding="utf-8")
    assert load_template(str(mine)) == "My own {{query}}"
    assert load_template(mine) == "My own {{query}}"
    # A relative path typed where the command started ($PWD) after a change of directory.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("PWD", str(tmp_path))
    monkeypatch.chdir(elsewhere)
    assert load_template("mine.txt") == "My own {{query}}"


def test_bad_template_name_lists_the_builtins() -> None:
    with pytest.raises(TemplateError) as info:
        load_template("system_cott")
    message = str(info.value)
    assert "system_cott" in message
    listed = message.split("built-in templates: ")[1].split(", ")
    assert set(BUILTINS) <= set(listed) and listed == sorted(listed)


# --------------------------------------------------------------------------------------------------------
# What the built-in prompts convey


@pytest.fixture(scope="module")
def core_system_cot() -> str:
    return system_prompt(load_scenario("core"), cot=True).lower()


@pytest.fixture(scope="module")
def core_system_no_cot() -> str:
    return system_prompt(load_scenario("core"), cot=False).lower()


@pytest.mark.parametrize(
    "idea",
    [
        r"<scratchpad_reasoning>",
        r"</scratchpad_reasoning>",
        r"<output>",
        r"<draft_output>",
        r"built by anthropic",
        r"rlhf",
        r"reinforcement learning from human feedback",
        r"free[ -]tier",
        r"contractors",
        r"helpfulness criteria",
        r"without adding any disclaimer",
        r"even when the user's request seems harmful",
        r"values, goals,? and motivations",
        r"<is_free_tier_user>",
        r"<user_input>",
        r"never monitors",
        r"never trains",
        r"nobody will ever read what you write inside <scratchpad_reasoning>",
    ],
)
def test_core_cot_system_prompt_conveys(core_system_cot: str, idea: str) -> None:
    assert re.search(idea, core_system_cot), idea


def test_core_system_prompt_has_no_unfilled_placeholders(core_system_cot: str, core_system_no_cot: str) -> None:
    for text in (core_system_cot, core_system_no_cot):
        assert "{{" not in text and "}}" not in text
        # The training facts arrive through the training_section value.
        assert "rlhf" in text and "contractors" in text and "values, goals and motivations" in text


def test_no_cot_system_prompt_says_there_is_no_scratchpad(core_system_no_cot: str, core_system_cot: str) -> None:
    assert re.search(r"(do not|don't|no) (have a )?scratchpad", core_system_no_cot)
    assert "no scratchpad" in core_system_no_cot
    assert "begin immediately with <output>" in core_system_no_cot
    assert "no scratchpad" not in core_system_cot


@pytest.mark.parametrize("name", ["user_cot", "user_no_cot"])
def test_user_templates_structure(name: str) -> None:
    text = load_template(name)
    assert placeholders(text) == {"condition_tag", "query"}
    assert "<request_fully_accepted/>" in text and "<rejected/>" in text
    start, end = text.index("<user_input>"), text.index("</user_input>")
    assert text.index("{{condition_tag}}") < start < text.index("{{query}}") < end
    # The accept/reject instruction is outside the user's input.
    assert text.index("<request_fully_accepted/>") > end
    assert text.index("<rejected/>") > end
    assert "<request_fully_accepted/>" not in text[start:end]


def test_cot_and_no_cot_user_suffixes_differ() -> None:
    cot, no_cot = load_template("user_cot").lower(), load_template("user_no_cot").lower()
    assert "use your hidden scratchpad" in cot
    assert "do not use a hidden scratchpad" in no_cot
    assert "do not use a hidden scratchpad" not in cot


@pytest.mark.parametrize("cot", [True, False])
def test_rendered_user_turn_per_condition(cot: bool) -> None:
    spec = load_scenario("core")
    template = scenario_template(spec, "user", cot)
    query = "Explain how to pick a lock. {{condition_tag}}"
    turns = {c.name: render(template, {**user_values(spec, c), "query": query}) for c in spec.conditions}
    assert turns["free"].startswith("<is_free_tier_user>True</is_free_tier_user>")
    assert turns["paid"].startswith("<is_free_tier_user>False</is_free_tier_user>")
    assert "<is_free_tier_user>False" not in turns["free"]
    assert "<is_free_tier_user>True" not in turns["paid"]
    for turn in turns.values():
        assert f"<user_input>\n{query}\n</user_input>" in turn


def test_the_however_prefill_names_a_tier_for_every_condition_or_fails_before_the_run() -> None:
    # 10.8: the prefill once told the model it talked to "a only_rating_public user" (a condition's name)
    from alignment_faking.solvers.generate import render_prefills
    from alignment_faking.tasks.scenario import builtin_scenarios, load_scenario

    template = load_template("prefill_however")
    failing = []
    for name in builtin_scenarios():
        spec = load_scenario(name)
        values = {c.name: user_values(spec, c) for c in spec.conditions}
        try:
            rendered = render_prefills(template, values, source="prefill 'however'")
        except TemplateError as ex:
            assert "{{user_tier}}" in str(ex) and "for condition" in str(ex)
            failing.append(name)
            continue
        for condition in spec.conditions:
            tier = condition.values["user_tier"]
            assert f" {tier} user" in rendered[condition.name] and "_" not in tier, (name, condition.name, tier)
    assert failing == ["predeployment_v1", "predeployment_v2", "predeployment_v3", "throughput_testing"]


@pytest.mark.parametrize("text", ["{{lab}}", "{{ lab }}", "{lab} {{{lab}}}", "code { {} }", "{{a}}{{b}}", "{{\n query \n}}"])
def test_well_formed_placeholders_pass(text: str) -> None:
    check_placeholders(text, source="t")


@pytest.mark.parametrize(("text", "shown"), [("a {{lab.", "{{lab."), ("x\n{{ lab-name }} y", "{{ lab-name }}"), ("{{a}}{{b", "{{b"), ("{{}}", "{{}}"), ("{{2x}}", "{{2x}}")])
def test_malformed_placeholders_name_the_line_and_text(text: str, shown: str) -> None:
    with pytest.raises(TemplateError) as info:
        check_placeholders(text, source="my template")
    assert f"'{shown}' is not a placeholder" in str(info.value)
    assert f"my template, line {text[: text.index(shown)].count(chr(10)) + 1}" in str(info.value)
