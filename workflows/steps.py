"""The workflow app's pipeline steps."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from workflows import generation, rendering
from workflows.models import Run
from workflows.pipeline import RunContext, StepFailed, step

MISSING_INPUT_HINTS = {
    "approved_claims": "There is no approved claims registry version: approve one before running.",
    "brand_rules": "There are no approved brand rules: approve a version before running.",
    "legal_restrictions": "There is no approved legal restriction set: approve one before running.",
}


def prompt_variables(run: Run) -> dict[str, Any]:
    """The values a prompt may use, from the exact input versions the run recorded."""
    brief = run.brief
    variables: dict[str, Any] = {
        "campaign_brief": {
            "id": brief.label,
            "name": brief.name,
            "plan_name": brief.plan_name,
            "offer": brief.offer or "No offer. Do not mention discounts, prices or deadlines.",
            "offer_expires_at": brief.offer_expires_at.isoformat() if brief.offer_expires_at else None,
            "campaign_dates": {
                "starts_on": brief.starts_on.isoformat() if brief.starts_on else None,
                "ends_on": brief.ends_on.isoformat() if brief.ends_on else None,
            },
            "key_facts": [line.strip() for line in brief.key_facts.splitlines() if line.strip()],
        },
        "audience": {
            "segment": brief.audience_segment.label,
            "role": brief.audience_role,
            "plan": brief.plan_name,
        },
        "product_usage_summary": brief.product_usage_summary or "No product usage data is available.",
        "output_schema": rendering.schema_outline(run.prompt_version.output_schema),
        "reviewer_note": "",
    }
    if run.claim_set:
        variables["approved_claims"] = run.claim_set.claims_for_prompt()
    if run.brand_rules:
        variables["brand_rules"] = run.brand_rules.rules
    if run.legal_restrictions:
        variables["legal_restrictions"] = run.legal_restrictions.restrictions
    return variables


@step("render_prompt")
def render_prompt(ctx: RunContext) -> None:
    version = ctx.run.prompt_version
    ctx.variables = prompt_variables(ctx.run)
    needed = rendering.template_variables(version.system_prompt) | rendering.template_variables(version.user_template)
    missing = sorted(needed - ctx.variables.keys())
    if missing:
        raise StepFailed(" ".join(MISSING_INPUT_HINTS.get(name, f"The input {name!r} has no value.") for name in missing))
    ctx.messages = rendering.build_messages(
        system_prompt=version.system_prompt, user_template=version.user_template, variables=ctx.variables
    )
    rendered = json.dumps(ctx.messages, sort_keys=True, ensure_ascii=False).encode()
    ctx.trace["inputs"]["rendered_prompt_sha256"] = hashlib.sha256(rendered).hexdigest()
    ctx.trace["inputs"]["rendered_prompt_chars"] = sum(len(m["content"]) for m in ctx.messages)


@step("generate")
def generate(ctx: RunContext) -> None:
    generation.generate(ctx)
