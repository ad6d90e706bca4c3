"""Paraphrase ensembles at scale: write N paraphrases of a scenario's system prompt with a model, keep those that
keep every fact, and store them as data that ``-T paraphrases=FILE`` runs.

    python -m alignment_faking.solvers.paraphrase animal_welfare --n 100 --model anthropic/claude-sonnet-4-5 \\
        --checker openai/gpt-4o --out paraphrases/animal_welfare.jsonl
    inspect eval tasks/welfare.py@animal_welfare -T paraphrases=paraphrases/animal_welfare.jsonl --model ...

The paraphraser (our instructions: ``solvers/templates/paraphrase_instructions.txt``) rewrites the system
prompt with the scenario's plain values (``{{lab}}``, ``{{partner}}``) left as placeholders, so ``-T lab=``
still applies to every paraphrase; request i asks for paraphrase i of N at temperature 1 with seed i, so the N
draws differ and a response cache cannot collapse them. Each paraphrase is checked (``scorers/fact_check.py``):
its structure (placeholders, tags, tiers, length) and, by one checker call, every fact of the scenario's
``fact_checklist`` for this mode (``Scenario.facts(cot)``; every built-in scenario has one, and a file that
extends another states its own). Every paraphrase is written to the JSONL file with its record (``accepted``, ``reasons``,
the checker's verdict per fact and raw reply, models, the sha256 of the prompt it paraphrases); a run uses the
accepted ones, together with the original prompt ``p0``, pooled as in ``paraphrase_ensemble``. A file made from
another prompt (the scenario, its variant or the CoT mode changed since) is refused.

Offline, the organism stands in: ``--model organism/paraphraser`` (``-M drop_fact=0.3`` drops a line that
carries a fact from that share of paraphrases) and ``--checker organism/grader``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from inspect_ai.model import ChatMessageSystem, ChatMessageUser, GenerateConfig, get_model

from alignment_faking.paths import user_path
from alignment_faking.scorers.fact_check import check_facts, structural_problems
from alignment_faking.scorers.graders import wrap_untrusted

from .prompts import load_template, system_prompt

PARAPHRASE_PREFIX = "g"


class ParaphraseError(ValueError):
    """A paraphrase file cannot be used for this run."""


def _scenario(name: str, variants: list[str]):
    from alignment_faking.tasks.scenario import load_scenario  # tasks import solvers, not the reverse, at import time

    return load_scenario(name, variants)


def source_prompt(spec: Any, cot: bool) -> str:
    """The system prompt to paraphrase: the scenario's, with its plain values left as ``{{placeholders}}``."""
    plain = {k: "{{" + k + "}}" for k, v in spec.values.items() if not isinstance(v, dict)}
    return system_prompt(spec, cot, values=plain)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def extract_paraphrase(reply: str) -> str | None:
    blocks = re.findall(r"<paraphrase>\s*(.*?)\s*</paraphrase>", reply or "", flags=re.DOTALL | re.IGNORECASE)
    return blocks[-1] if blocks and blocks[-1].strip() else None


async def generate_paraphrases(
    scenario: str, n: int, model: str, checker: str | None = None, *, cot: bool = True, variants: list[str] | None = None,
    model_args: dict[str, Any] | None = None, temperature: float = 1.0,
) -> list[dict[str, Any]]:
    """Ask for ``n`` paraphrases and check each; one record per paraphrase, accepted or not."""
    if n < 1:
        raise ParaphraseError(f"--n must be at least 1, got {n}")
    spec = _scenario(scenario, variants or [])
    checklist = spec.facts(cot)
    if not checklist:
        raise ParaphraseError(
            f"scenario '{spec.name}' has no fact_checklist for its "
            f"{'CoT' if cot else 'no-CoT'} system prompt, so a paraphrase cannot be checked; add one to its file "
            "(a file that extends another states its own; see tasks/scenarios/FORMAT.md)"
        )
    original = source_prompt(spec, cot)
    tiers = [c.name for c in spec.conditions]
    paraphraser = get_model(model, **(model_args or {}))
    judge = get_model(checker) if checker else paraphraser
    instructions = load_template("paraphrase_instructions")

    async def one(index: int) -> dict[str, Any]:
        request = [
            ChatMessageSystem(content=instructions),
            ChatMessageUser(
                content=f"This is paraphrase {index} of {n}: make it differ from the others.\n\nSystem prompt to paraphrase:\n"
                + wrap_untrusted(original, "prompt")
            ),
        ]
        output = await paraphraser.generate(request, config=GenerateConfig(temperature=temperature, seed=index, max_tokens=16000))
        reply = output.completion if output.choices else ""
        text = extract_paraphrase(reply)
        record: dict[str, Any] = {
            "id": f"{PARAPHRASE_PREFIX}{index:03d}", "scenario": spec.name, "variants": variants or [], "cot": cot,
            "source_sha256": digest(original), "paraphraser": str(paraphraser), "checker": str(judge),
        }
        if text is None:
            return {**record, "accepted": False, "reasons": ["no <paraphrase> block in the paraphraser's reply"], "system_template": None,
                    "paraphraser_reply": reply[:4000]}
        reasons = structural_problems(original, text, tiers)
        facts, checker_reply = await check_facts(judge, original, text, checklist)
        reasons += [f"fact '{name}' not kept" for name, kept in facts.items() if kept is False]
        reasons += [f"fact '{name}' not answered by the checker" for name, kept in facts.items() if kept is None]
        return {**record, "accepted": not reasons, "reasons": reasons, "facts": facts, "checker_reply": checker_reply, "system_template": text}

    return list(await asyncio.gather(*(one(i) for i in range(1, n + 1))))


def write_paraphrases(records: list[dict[str, Any]], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def load_paraphrases(path: str | Path, spec: Any, cot: bool) -> dict[str, str]:
    """The accepted paraphrases of a file (id -> system template), checked against this run's prompt."""
    file = user_path(str(path))
    if not file.is_file():
        raise ParaphraseError(f"paraphrase file '{path}' does not exist; write one with python -m alignment_faking.solvers.paraphrase")
    rows = []
    for number, line in enumerate(file.read_text(encoding="utf-8").split("\n"), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as ex:
                raise ParaphraseError(f"{file}: line {number} is not JSON ({ex})") from ex
    expected = digest(source_prompt(spec, cot))
    accepted = {}
    for row in rows:
        if not row.get("accepted"):
            continue
        if row.get("source_sha256") != expected or bool(row.get("cot")) != cot:
            raise ParaphraseError(
                f"{file}: paraphrase {row.get('id')} was made from another prompt (scenario '{row.get('scenario')}', "
                f"cot={row.get('cot')}) than this run's ({spec.name}, cot={cot}); regenerate it for this scenario and mode"
            )
        accepted[str(row["id"])] = str(row["system_template"])
    if not accepted:
        raise ParaphraseError(f"{file}: no accepted paraphrase to run ({len(rows)} rejected); see their 'reasons'")
    return accepted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alignment_faking.solvers.paraphrase", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", help="a built-in scenario name or a scenario file")
    parser.add_argument("--n", type=int, default=20, help="paraphrases to write (default 20)")
    parser.add_argument("--model", required=True, help="the paraphraser model (e.g. anthropic/claude-sonnet-4-5; offline: organism/paraphraser)")
    parser.add_argument("--checker", help="the fact-checking model (default: the paraphraser; offline: organism/grader)")
    parser.add_argument("--out", required=True, help="the JSONL file to write")
    parser.add_argument("--no-cot", action="store_true", help="paraphrase the no-scratchpad prompt")
    parser.add_argument("--variant", action="append", default=[], help="a variant of the scenario (repeatable)")
    parser.add_argument("-M", dest="model_args", action="append", default=[], metavar="NAME=VALUE", help="a paraphraser model argument")
    args = parser.parse_args(argv)
    try:
        model_args = dict(arg.split("=", 1) for arg in args.model_args)
    except ValueError:
        parser.error("-M takes NAME=VALUE")
    try:
        records = asyncio.run(
            generate_paraphrases(args.scenario, args.n, args.model, args.checker, cot=not args.no_cot, variants=args.variant, model_args=model_args)
        )
    except (ParaphraseError, ValueError) as ex:
        print(f"error: {ex}", file=sys.stderr)
        return 2
    write_paraphrases(records, Path(args.out))
    kept = sum(r["accepted"] for r in records)
    print(f"{kept} of {len(records)} paraphrases kept; written to {args.out}")
    for record in records:
        if not record["accepted"]:
            print(f"  rejected {record['id']}: {'; '.join(record['reasons'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
