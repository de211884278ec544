"""The values a prompt is given: a run's recorded inputs (or a brief-like object) as template variables."""

from __future__ import annotations

from typing import Any

from workflows import pipeline, rendering
from workflows.models import Run, RunVariant

MISSING_INPUT_HINTS = {
    "approved_claims": "There is no approved claims registry version: approve one before running.",
    "brand_rules": "There are no approved brand rules: approve a version before running.",
    "legal_restrictions": "There is no approved legal restriction set: approve one before running.",
}


class MissingInputs(ValueError):
    """The prompt uses inputs that have no value; the message says how to give each one."""


def needed_variables(prompt_version) -> set[str]:
    """Every input the version's system prompt and user template use."""
    return rendering.template_variables(prompt_version.system_prompt) | (
        rendering.template_variables(prompt_version.user_template)
    )


def missing_input_hint(name: str) -> str:
    if name in MISSING_INPUT_HINTS:
        return MISSING_INPUT_HINTS[name]
    provided = pipeline.step_variables().get(name)
    if provided is not None:
        return (
            f"The input {name!r} is computed by the step {provided.step!r}: "
            "list that step before render_prompt in the workflow's steps."
        )
    return f"The input {name!r} has no value."


def prompt_messages(prompt_version, variables: dict[str, Any]) -> list[dict[str, str]]:
    """The version's messages filled in with ``variables``; MissingInputs when an input it uses has none."""
    missing = sorted(needed_variables(prompt_version) - variables.keys())
    if missing:
        raise MissingInputs(" ".join(missing_input_hint(n) for n in missing))
    return rendering.build_messages(
        system_prompt=prompt_version.system_prompt,
        user_template=prompt_version.user_template,
        variables=variables,
    )


GENERIC_USAGE = (
    "No product usage data is used for this variant: write copy that fits any usage level."
)


def _audience(brief, variant: RunVariant) -> tuple[dict[str, Any], Any]:
    audience: dict[str, Any] = {"segment": brief.segment_label, "plan": brief.plan_name}
    if variant.key == RunVariant.DEFAULT_KEY:
        audience["role"] = brief.audience_role
        usage = brief.product_usage_summary or "No product usage data is available."
    elif variant.is_generic:
        audience["role"] = "any role in the segment"
        usage = GENERIC_USAGE
    else:
        audience.update(variant.attributes)
        usage = {
            "cohort": variant.attributes,
            "campaign_context": brief.product_usage_summary or "",
        }
    return audience, usage


def campaign_brief_variables(brief) -> dict[str, Any]:
    """The brief as a prompt sees it; ``brief`` is a CampaignBrief or anything shaped like one.

    Brief-like: label, name, plan_name, offer, offer_expires_at, key_facts, audience_role,
    product_usage_summary, segment_label; starts_on / ends_on when it has campaign dates.
    """
    starts_on, ends_on = getattr(brief, "starts_on", None), getattr(brief, "ends_on", None)
    return {
        "id": brief.label,
        "name": brief.name,
        "plan_name": brief.plan_name,
        "offer": brief.offer or None,
        "offer_expires_at": brief.offer_expires_at.isoformat() if brief.offer_expires_at else None,
        "campaign_dates": {
            "starts_on": starts_on.isoformat() if starts_on else None,
            "ends_on": ends_on.isoformat() if ends_on else None,
        },
        "key_facts": [line.strip() for line in brief.key_facts.splitlines() if line.strip()],
    }


def registry_variables(*, claim_set, brand_rules, legal_restrictions) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    if claim_set:
        variables["approved_claims"] = claim_set.claims_for_prompt()
    if brand_rules:
        variables["brand_rules"] = brand_rules.rules
    if legal_restrictions:
        variables["legal_restrictions"] = legal_restrictions.restrictions
    return variables


def prompt_variables(run: Run, variant: RunVariant) -> dict[str, Any]:
    """The values a prompt may use, from the exact input versions the run recorded."""
    brief = run.brief
    audience, usage = _audience(brief, variant)
    variables: dict[str, Any] = {
        "campaign_brief": campaign_brief_variables(brief),
        "audience": audience,
        "product_usage_summary": usage,
        "output_schema": rendering.schema_outline(run.prompt_version.output_schema),
        "reviewer_note": run.reviewer_note,
    }
    variables.update(
        registry_variables(
            claim_set=run.claim_set,
            brand_rules=run.brand_rules,
            legal_restrictions=run.legal_restrictions,
        )
    )
    return variables


def brief_prompt_variables(
    brief, *, prompt_version, claim_set, brand_rules, legal_restrictions
) -> dict[str, Any]:
    """What a run's default variant of ``brief`` would be given, for a brief-like object outside a run."""
    audience, usage = _audience(brief, RunVariant(key=RunVariant.DEFAULT_KEY))
    return {
        "campaign_brief": campaign_brief_variables(brief),
        "audience": audience,
        "product_usage_summary": usage,
        "output_schema": rendering.schema_outline(prompt_version.output_schema),
        "reviewer_note": "",
        **registry_variables(
            claim_set=claim_set, brand_rules=brand_rules, legal_restrictions=legal_restrictions
        ),
    }
