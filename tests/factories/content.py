"""The test workspace's content: an email workflow for a made-up product, written for the tests.

Explicit test data, not the demo's: the prompt, output contract, claims, rules and routing the
pipeline needs to run end to end. Version numbers are not 1 on purpose (prompt v7, claims v14,
brand v6, legal v3), so a label in a trace or message can only have come from the object.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

PRODUCT = "Kestrel Boards"
WORKFLOW_SLUG = "trial_expiration_email"

PROMPT_VERSION = 7
CLAIMS_VERSION = 14
BRAND_VERSION = 6
LEGAL_VERSION = 3

SUBJECT_MAX_LENGTH = 48


def email_schema(*, subject_max_length: int = SUBJECT_MAX_LENGTH) -> dict[str, Any]:
    """The output contract: three subject lines, preview, body, one CTA, rationale, risk flags."""

    def text(max_length: int) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": max_length}

    properties: dict[str, Any] = {
        "subject_lines": {
            "type": "array",
            "items": text(subject_max_length),
            "minItems": 3,
            "maxItems": 3,
        },
        "preview_text": text(90),
        "email_body": text(1200),
        "cta_text": text(30),
        "rationale": text(300),
        "risk_flags": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 160},
            "maxItems": 5,
        },
    }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


SYSTEM_PROMPT = (
    f"You draft lifecycle emails for {PRODUCT}.\n"
    "- A product fact may appear only if an approved claim states it.\n"
    f"- Each subject line has at most {SUBJECT_MAX_LENGTH} characters.\n"
    "- Obey every legal restriction; describe problems in risk_flags.\n"
    "- Reply with one JSON object in the requested shape."
)
USER_TEMPLATE = "\n\n".join(
    [
        "Write the email for a workspace whose free trial is about to end.",
        "## Campaign brief\n{{campaign_brief}}",
        "## The reader\n{{audience}}",
        "## What the reader did during the trial\n{{product_usage_summary}}",
        "## Approved claims (the only product facts you may state)\n{{approved_claims}}",
        "## Brand rules\n{{brand_rules}}",
        "## Legal restrictions\n{{legal_restrictions}}",
        "## Reply format\n{{output_schema}}",
    ]
)


def claims(today) -> list[dict[str, Any]]:
    """Usable claims, plus one retired and one expired claim that must stay out of prompts."""
    return [
        {
            "key": "sso_all_plans",
            "text": "Single sign-on with SAML or OIDC is included on every paid plan.",
        },
        {
            "key": "unlimited_viewers",
            "text": "Viewer seats are free and unlimited on the Team and Business plans.",
        },
        {
            "key": "dashboard_templates",
            "text": "New workspaces can start from 20 ready-made dashboards for delivery and cycle time.",
        },
        {
            "key": "trial_data_kept",
            "text": "Trial workspaces keep their boards and data for 30 days after the trial ends.",
        },
        {
            "key": "forecasting_beta",
            "text": "Delivery forecasting is free while it is in beta.",
            "status": "retired",
        },
        {
            "key": "spring_annual_offer",
            "text": "Annual plans bought during the spring promotion include two extra months.",
            "expires_on": today - timedelta(days=30),
        },
    ]


BRAND_RULES = "\n".join(
    [
        f"Say {PRODUCT} in full on first mention.",
        "Keep sentences under 20 words; no exclamation marks.",
        "Use exactly one call to action, starting with a verb.",
    ]
)
LEGAL_RESTRICTIONS = "\n".join(
    [
        "Name a security or compliance standard only when an approved claim states it.",
        "Promise no uptime, results or savings; never call anything guaranteed.",
        "Do not mention or compare with competitors.",
    ]
)
RESTRICTED_TERMS = ["SOC 2", "HIPAA", "GDPR", "ISO 27001", "guarantee", "guaranteed", "100% uptime"]
KNOWN_FEATURES = ["single sign-on", "SSO", "SAML", "REST API", "forecasting", "dashboards"]
KNOWN_COMPETITORS = ["Linear", "Asana", "Tableau"]

# Grounded in the claims above: the deterministic checks pass it at low risk.
FALLBACK_EMAIL = {
    "subject_lines": [
        "Your Kestrel Boards trial ends soon",
        "Keep your boards after the trial",
        "Pick a plan for your workspace",
    ],
    "preview_text": "Your boards and dashboards can stay where your team left them.",
    "email_body": (
        "Hi there,\n\n"
        "Your Kestrel Boards trial ends soon. Pick the plan that suits your team to keep your "
        "workspace as it is.\n\n"
        "Trial workspaces keep their boards and data for 30 days after the trial ends.\n\n"
        "Choose a plan\n\n"
        "The Kestrel team"
    ),
    "cta_text": "Choose a plan",
    "rationale": "Fallback with no personalization, grounded in the data-retention claim.",
    "risk_flags": [],
}

BRIEF = {
    "name": "Trial ending: engineering managers on Team",
    "audience_role": "engineering manager",
    "plan_name": "Team",
    "product_usage_summary": "Connected GitHub with 4 repositories. Built 3 boards.",
    "offer": "",
    "key_facts": "The trial ends in 3 days.\nTeam is billed per editor; viewers cost nothing.",
}

RUBRICS = {
    "brand_voice": (
        "brand",
        "Pass when the copy is clear and specific; review when the tone is off; fail when rude.",
    ),
    "grounding": (
        "legal",
        "Every product statement must come from the approved claims or the brief. Fail when not.",
    ),
    "policy": (
        "legal",
        "Fail on legal, security or financial claims not in the approved claims; review when unsure.",
    ),
}

# Hours an item may wait in each review queue before it is overdue.
DUE_HOURS = {"legal": 24, "brand": 48, "lifecycle_marketing": 24, "product_marketing": 48}

# (position, name, condition, team slug, extra fields): the first rule that holds decides.
ROUTING_RULES = [
    (10, "High risk to legal", "risk_at_least", "legal", {"risk_level": "high"}),
    (
        20,
        "Legal terms in review to legal",
        "check_verdict",
        "legal",
        {"check_name": "restricted_terms", "verdicts": ["review", "fail"]},
    ),
    (
        30,
        "Brand voice not passing to brand",
        "check_verdict",
        "brand",
        {"check_name": "judge:brand_voice", "verdicts": ["review", "fail"]},
    ),
    (40, "Any judge failing to legal", "any_judge_fails", "legal", {}),
    (
        50,
        "Personalization in review to lifecycle marketing",
        "check_verdict",
        "lifecycle_marketing",
        {"check_name": "personalization_safety", "verdicts": ["review", "fail"]},
    ),
    (90, "Everything else to lifecycle marketing", "always", "lifecycle_marketing", {}),
]
