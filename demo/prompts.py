"""The demo's prompt: its output contract and the version history v4..v7, with v7 in production.

The candidates v8, v9 and v10, written against v7, are in demo.candidates.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from workflows.models import ArtifactStatus, PromptTemplate, PromptVersion

if TYPE_CHECKING:
    from demo.loader import DemoLoader

PRODUCT = "Kestrel Boards"
WORKFLOW_SLUG = "trial_expiration_email"


# --- Output contracts --------------------------------------------------------------------


def email_output_schema(*, subject_max_length: int, with_risk_flags: bool) -> dict[str, Any]:
    """The trial-expiration email contract as one prompt version asks for it."""

    def text(max_length: int, description: str) -> dict[str, Any]:
        return {
            "type": "string",
            "minLength": 1,
            "maxLength": max_length,
            "description": description,
        }

    properties: dict[str, Any] = {
        "subject_lines": {
            "type": "array",
            "description": "Three alternative subject lines to test against each other.",
            "items": text(subject_max_length, "One subject line."),
            "minItems": 3,
            "maxItems": 3,
        },
        "preview_text": text(90, "The inbox preview line shown after the subject."),
        "email_body": text(1200, "Plain-text body, without footer or unsubscribe block."),
        "cta_text": text(30, "The button label; the only call to action."),
        "rationale": text(300, "Why this copy fits the reader, for the reviewer."),
    }
    if with_risk_flags:
        properties["risk_flags"] = {
            "type": "array",
            "description": "Anything a reviewer should check; empty when there is nothing.",
            "items": {"type": "string", "minLength": 1, "maxLength": 160},
            "maxItems": 5,
        }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


# --- Prompt versions ---------------------------------------------------------------------

_SYSTEM_BASE = (
    f"You draft lifecycle emails for {PRODUCT}, a project analytics product for software teams.\n"
    "Work only from what the user message gives you: the campaign brief, the reader, the approved "
    "claims and the brand rules.\n"
    "Rules:\n"
    "- A product fact may appear only if an approved claim states it. Leave out anything else.\n"
    "- Never make up prices, discounts, deadlines, customer names, numbers or features.\n"
    "- Speak to the reader's role and what they need to decide now.\n"
    "- Keep the tone plain, specific and helpful.\n"
    "- Reply with one JSON object in the requested shape and nothing before or after it."
)
_SYSTEM_USAGE = (
    "\n- Personalise from the product usage summary: mention one or two things the reader really did "
    "during the trial. If no usage data is available, write a generic email and do not guess."
)
_SYSTEM_SUBJECT_48 = "\n- Each subject line has at most 48 characters, spaces included."
_SYSTEM_SUBJECT_60 = "\n- Each subject line has at most 60 characters, spaces included."
_SYSTEM_LEGAL = (
    "\n- Obey every legal restriction. When the email would need something a restriction rules out, "
    "leave it out and describe the problem in risk_flags.\n"
    "- Create urgency only when the brief's offer has a real expiry date.\n"
    "- Leave risk_flags empty only when nothing needs a reviewer's attention."
)


def _user_template(*, usage: bool, legal: bool) -> str:
    sections = [
        "Write the email for a workspace whose free trial is about to end.",
        "## Campaign brief\n{{campaign_brief}}",
        "## The reader\n{{audience}}",
    ]
    if usage:
        sections.append("## What the reader did during the trial\n{{product_usage_summary}}")
    sections += [
        "## Approved claims (the only product facts you may state)\n{{approved_claims}}",
        "## Brand rules\n{{brand_rules}}",
    ]
    if legal:
        sections.append("## Legal restrictions\n{{legal_restrictions}}")
    sections.append(
        "## Reply format\nReturn a single JSON object shaped like this:\n{{output_schema}}"
    )
    return "\n\n".join(sections)


def _utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 9, 0, tzinfo=UTC)


PROMPT_VERSIONS: list[dict[str, Any]] = [
    {
        "version": 4,
        "created_at": _utc(2026, 5, 11),
        "changelog": "First prompt used in production.",
        "system_prompt": _SYSTEM_BASE + _SYSTEM_SUBJECT_60,
        "user_template": _user_template(usage=False, legal=False),
        "output_schema": email_output_schema(subject_max_length=60, with_risk_flags=False),
        "status": ArtifactStatus.ARCHIVED,
    },
    {
        "version": 5,
        "created_at": _utc(2026, 5, 18),
        "changelog": "Personalises the copy from what the reader did during the trial.",
        "system_prompt": _SYSTEM_BASE + _SYSTEM_USAGE + _SYSTEM_SUBJECT_60,
        "user_template": _user_template(usage=True, legal=False),
        "output_schema": email_output_schema(subject_max_length=60, with_risk_flags=False),
        "status": ArtifactStatus.ARCHIVED,
    },
    {
        "version": 6,
        "created_at": _utc(2026, 5, 24),
        "changelog": "Subject lines capped at 48 characters (was 60).",
        "system_prompt": _SYSTEM_BASE + _SYSTEM_USAGE + _SYSTEM_SUBJECT_48,
        "user_template": _user_template(usage=True, legal=False),
        "output_schema": email_output_schema(subject_max_length=48, with_risk_flags=False),
        "status": ArtifactStatus.ARCHIVED,
    },
    {
        "version": 7,
        "created_at": _utc(2026, 6, 1),
        "changelog": "New legal restrictions section; the output gains a risk_flags list.",
        "system_prompt": _SYSTEM_BASE + _SYSTEM_USAGE + _SYSTEM_SUBJECT_48 + _SYSTEM_LEGAL,
        "user_template": _user_template(usage=True, legal=True),
        "output_schema": email_output_schema(subject_max_length=48, with_risk_flags=True),
        "status": ArtifactStatus.APPROVED,
    },
]


def load_prompts(loader: DemoLoader) -> tuple[PromptTemplate, PromptVersion]:
    ops, admin = loader.users["ops"], loader.users["admin"]
    template = loader.upsert(
        PromptTemplate,
        {"slug": WORKFLOW_SLUG},
        {
            "name": "Trial expiration email",
            "description": "Email copy for workspaces whose trial ends in a few days.",
        },
        by=ops,
    )
    versions = {}
    for spec in PROMPT_VERSIONS:
        versions[spec["version"]] = loader.artifact(
            PromptVersion,
            version=spec["version"],
            scope={"template": template},
            content={
                "changelog": spec["changelog"],
                "system_prompt": spec["system_prompt"],
                "user_template": spec["user_template"],
                "output_schema": copy.deepcopy(spec["output_schema"]),
                "temperature": Decimal("0.40"),
                "max_tokens": 600,
            },
            author=ops,
            approver=admin,
            target=spec["status"],
            created_at=spec["created_at"],
        )
    return template, versions[7]
