"""Model-judged evals: a rubric, the output, and a structured verdict through the model adapter."""

from __future__ import annotations

import json
import time
from typing import Any

from workflows import contracts, llm
from workflows.vocabulary import Verdict

VERDICT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["verdict", "reasons"],
    "properties": {
        "verdict": {"type": "string", "enum": [Verdict.PASS, Verdict.FAIL, Verdict.REVIEW]},
        "reasons": {"type": "array", "items": {"type": "string", "maxLength": 300}, "maxItems": 5},
    },
}
JUDGE_MAX_TOKENS = 300


def judge_messages(
    *, rubric_instructions: str, output: dict, evidence: str
) -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": (
                "You are a strict reviewer of marketing copy. Apply the rubric below and answer with JSON: "
                '{"verdict": "pass" | "fail" | "review", "reasons": [short sentences]}.\n\nRubric:\n'
                + rubric_instructions.strip()
            ),
        },
        {
            "role": "user",
            "content": f"Evidence the copy may rely on:\n{evidence.strip()}\n\nCopy to judge:\n{json.dumps(output, indent=2, ensure_ascii=False)}",
        },
    ]


def judge(
    *,
    name: str,
    rubric_label: str,
    rubric_instructions: str,
    output: dict,
    evidence: str,
    config,
    model: str,
    deadline: float | None = None,
    breaker: llm.EndpointBreaker | None = None,
) -> dict[str, Any]:
    """One judge's verdict. A judge that fails to answer usably gives "review", never a silent pass.

    No call starts after ``deadline`` (time.monotonic(); the run's budget) or to an endpoint ``breaker`` holds broken.
    """
    messages = judge_messages(
        rubric_instructions=rubric_instructions, output=output, evidence=evidence
    )
    base = {"name": name, "rubric": rubric_label, "model": model}
    if deadline is not None and time.monotonic() > deadline:
        return base | {
            "verdict": Verdict.REVIEW,
            "reasons": ["The judge did not run: the run's time budget was spent."],
            "input_tokens": 0,
            "output_tokens": 0,
        }
    try:
        result = llm.chat_json(
            config=config,
            model=model,
            messages=messages,
            schema=VERDICT_SCHEMA,
            temperature=0.0,
            max_tokens=JUDGE_MAX_TOKENS,
            breaker=breaker,
        )
    except llm.ModelCallError as exc:
        return base | {
            "verdict": Verdict.REVIEW,
            "reasons": [f"The judge could not run: {exc}"],
            "input_tokens": 0,
            "output_tokens": 0,
        }
    outcome = contracts.validate_output(result.text, VERDICT_SCHEMA)
    usage = {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens}
    if not outcome.valid:
        return (
            base
            | usage
            | {
                "verdict": Verdict.REVIEW,
                "reasons": [f"The judge's answer was unusable: {'; '.join(outcome.errors)[:200]}"],
            }
        )
    return (
        base
        | usage
        | {"verdict": outcome.content["verdict"], "reasons": outcome.content["reasons"]}
    )
