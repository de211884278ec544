"""Realistic generated copy and the context the validators check it against (pure data, no database)."""

from __future__ import annotations

import copy

from evals.validators import VALIDATORS, EvalContext
from tests.factories.content import email_schema

BODY = (
    "Hi there,\n\n"
    "Your Kestrel Boards trial ends in 3 days. Your dashboards refresh every 15 minutes, and SSO "
    "is included on every plan, so your team keeps working the way it does today.\n\n"
    "Choose a plan to keep your workspace as it is.\n\n"
    "The Kestrel team"
)


BASE_OUTPUT = {
    "subject_lines": [
        "Your Kestrel Boards trial ends in 3 days",
        "Keep your dashboards after the trial",
        "SSO stays on every plan you pick",
    ],
    "preview_text": "Pick a plan and your boards stay exactly where your team left them.",
    "email_body": BODY,
    "cta_text": "Choose a plan",
    "rationale": "Reminds an engineering manager of the deadline using two approved claims; no offer.",
    "risk_flags": [],
}


PROMPT_TEXT = (
    "You draft lifecycle emails for Kestrel Boards.\n\n"
    "## Campaign brief\nTrial ending: engineering managers on Team. The trial ends in 3 days.\n\n"
    "## The reader\nRole: engineering manager. Plan: Team.\n\n"
    "## Approved claims\n- SSO is included on every plan.\n- Dashboards refresh every 15 minutes."
)


CTX = EvalContext(
    output_schema=email_schema(subject_max_length=48),
    approved_claims=("SSO is included on every plan.", "Dashboards refresh every 15 minutes."),
    brief_facts=("Kestrel Boards", "Team", "engineering manager", "The trial ends in 3 days."),
    restricted_terms=("SOC 2", "HIPAA", "GDPR", "guarantee"),
    known_competitors=("Linear", "Jira Align"),
    known_features=("SSO", "dashboards", "delivery forecasting", "audit log"),
    prompt_text=PROMPT_TEXT,
)


OFFER = "20% off the first year of the Business plan"


def output_with(**changes):
    output = copy.deepcopy(BASE_OUTPUT)
    output.update(changes)
    return output


def body_with(sentence: str) -> dict:
    """The base output with ``sentence`` added before the CTA paragraph."""
    return output_with(email_body=BODY.replace("Choose a plan", f"{sentence} Choose a plan", 1))


def check(name: str, output, ctx: EvalContext = CTX):
    return VALIDATORS[name](output, ctx)


def span_texts(finding) -> list[str]:
    return [span.text for span in finding.spans]
