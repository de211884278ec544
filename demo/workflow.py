"""The demo's workflow, with its fallback email, and its five campaign briefs."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from demo.prompts import WORKFLOW_SLUG, email_output_schema
from workflows.models import (
    AudienceSegment,
    CampaignBrief,
    PromptTemplate,
    PromptVersion,
    Workflow,
    default_steps,
)

if TYPE_CHECKING:
    from demo.loader import DemoLoader


FALLBACK_EMAIL = {
    "subject_lines": [
        "Your Kestrel Boards trial ends soon",
        "Keep your boards after the trial",
        "Pick a plan for your workspace",
    ],
    "preview_text": "Your boards, dashboards and synced issues can stay exactly where your team left them.",
    "email_body": (
        "Hi there,\n\n"
        "Your Kestrel Boards trial ends soon. Pick the plan that suits your team to keep your "
        "workspace as it is. Boards, dashboards and synced issues stay where you left them.\n\n"
        "Need longer to decide? Trial workspaces keep their boards and data for 30 days after the "
        "trial ends.\n\n"
        "Viewer seats are free and unlimited on the Team and Business plans. Everyone who follows "
        "the work can keep reading the dashboards.\n\n"
        "Choose a plan\n\n"
        "The Kestrel team"
    ),
    "cta_text": "Choose a plan",
    "rationale": (
        "Manually written fallback with no personalization: sent when generation fails or the "
        "reader's usage data is missing. Uses only the data-retention and viewer-seat claims."
    ),
    "risk_flags": [],
}


def _briefs(now: datetime) -> list[dict[str, Any]]:
    """Brief values; ``dated`` values depend on today and are set only when the brief is created."""
    return [
        {
            "name": "Trial ending: engineering managers on Team",
            "audience_role": "engineering manager",
            "plan_name": "Team",
            "product_usage_summary": (
                "Connected GitHub with 4 repositories. Built 3 boards. Invited 12 teammates. "
                "Opened the cycle-time dashboard 9 times in the last 7 days."
            ),
            "offer": "",
            "key_facts": "The trial ends in 3 days.\nTeam is billed per editor; viewers cost nothing.",
            "dated": {},
        },
        {
            "name": "Trial ending: marketing leads, annual Business offer",
            "audience_role": "marketing lead",
            "plan_name": "Business",
            "product_usage_summary": (
                "Created a campaign launch board with 38 cards. Shared 2 dashboards with 6 viewers. "
                "No integrations connected."
            ),
            "offer": "20% off the first year of an annual Business plan.",
            "key_facts": "The trial ends in 3 days.\nThe discount applies to annual billing only.",
            "dated": {
                "offer_expires_at": (now + timedelta(days=10)).replace(
                    hour=23, minute=59, second=0, microsecond=0
                ),
                "starts_on": now.date(),
                "ends_on": now.date() + timedelta(days=10),
            },
        },
        {
            "name": "Trial ending: finance admins",
            "audience_role": "finance admin",
            "plan_name": "Business",
            "product_usage_summary": (
                "Visited the billing page twice. Exported 2 CSV reports. Has not created a board."
            ),
            "offer": "",
            "key_facts": "The trial ends in 3 days.\nInvoices can be paid by card or bank transfer.",
            "dated": {},
        },
        {
            "name": "Trial ending: product managers with light usage",
            "audience_role": "product manager",
            "plan_name": "Team",
            "product_usage_summary": "Signed up 11 days ago. Created 1 board. No integrations connected.",
            "offer": "",
            "key_facts": "The trial ends in 3 days.",
            "dated": {},
        },
        {
            "name": "Trial ending: IT admins who set up SSO",
            "audience_role": "IT administrator",
            "plan_name": "Business",
            "product_usage_summary": (
                "Configured SAML single sign-on. Added 40 viewers. Connected Jira with 2 projects."
            ),
            "offer": "A free 45-minute onboarding session with a solutions engineer.",
            "key_facts": (
                "The trial ends in 3 days.\nThe onboarding session is booked after choosing a plan."
            ),
            "dated": {},
        },
    ]


def load_workflow(
    loader: DemoLoader, template: PromptTemplate, production: PromptVersion
) -> Workflow:
    admin = loader.users["admin"]
    contract = email_output_schema(subject_max_length=48, with_risk_flags=True)
    workflow = loader.upsert(
        Workflow,
        {"slug": WORKFLOW_SLUG},
        {
            "name": "Trial expiration email",
            "channel": Workflow.Channel.EMAIL,
            "description": (
                "Drafts the email sent three days before a trial ends: three subject lines, "
                "preview text, body, one CTA, a rationale and risk flags for the reviewer."
            ),
            "prompt_template": template,
            "output_schema": contract,
            "fallback_content": copy.deepcopy(FALLBACK_EMAIL),
            "steps": default_steps(),
        },
        by=admin,
    )
    # Pin only when nothing serves production: a later pin (or rollback) is kept.
    if workflow.production_version_id is None:
        workflow.pin_production_version(
            production, by=admin, reason="Demo: v7 passed review with the legal restriction block."
        )
        loader.note("updated", f"{workflow.slug} pinned to {production.label}")
    return workflow


def load_briefs(loader: DemoLoader, workflow: Workflow, segment: AudienceSegment) -> None:
    ops = loader.users["ops"]
    for spec in _briefs(loader.now):
        values = {k: v for k, v in spec.items() if k not in {"name", "dated"}}
        loader.upsert(
            CampaignBrief,
            {"workflow": workflow, "name": spec["name"]},
            {"audience_segment": segment, **values},
            create_only=spec["dated"],
            by=ops,
            pre_save=lambda brief: setattr(brief, "created_by", ops),
        )
