"""The demo's second workflow kind: paid search ad variants from the approved claims.

Configuration only, through the same loaders as the trial email: an output schema for a Google
responsive search ad, prompt v1 (approved, pinned), fallback content, three briefs on a small
search segment, a data contract of the registries (no recipients: one generation per run), an
eval policy with the general checks and the search ad checks, and routing to legal and brand.
The pipeline steps are the defaults; no code path of its own.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from approvals.models import ReviewTeam, RoutingRule
from demo.approvals import load_demo_approvals
from demo.audience import load_demo_contract
from demo.evals import DEMO_COMPETITORS, DEMO_FEATURES
from demo.prompts import PRODUCT
from evals.models import EvalPolicy
from evals.validators.search_ads import DESCRIPTIONS, HEADLINES, PATH_MAX_CHARS
from inputs.models import InputRequirement
from workflows.models import (
    ArtifactStatus,
    AudienceSegment,
    CampaignBrief,
    PromptTemplate,
    PromptVersion,
    Workflow,
    default_steps,
    with_history_context,
)
from workflows.vocabulary import RiskLevel, Verdict, judge_check

if TYPE_CHECKING:
    from demo.loader import DemoLoader

PAID_SEARCH_SLUG = "paid_search_ads"
SEARCH_SEGMENT_SLUG = "search_project_analytics"


# --- Output contract -----------------------------------------------------------------------


def _asset(kind: str, max_chars: int, pins: tuple[int, ...]) -> dict[str, Any]:
    """One headline or description: a plain string, or ``{"text", "pin"}`` to pin it."""
    text = {"type": "string", "minLength": 1, "maxLength": max_chars}
    positions = ", ".join(map(str, pins[:-1])) + f" or {pins[-1]}"
    return {
        "title": kind.capitalize(),
        "anyOf": [
            text,
            {
                "type": "object",
                "properties": {
                    "text": {**text, "title": "Text"},
                    "pin": {
                        "type": ["integer", "null"],
                        "enum": [*pins, None],
                        "title": "Pinned to position",
                        "description": f"Always shown in position {positions}; null to rotate freely.",
                    },
                },
                "required": ["text", "pin"],
                "additionalProperties": False,
            },
        ],
    }


def _display_path(number: int) -> dict[str, Any]:
    return {
        "type": "string",
        "maxLength": PATH_MAX_CHARS,
        "title": f"Display path {number}",
        "description": "Shown after the domain in the ad's URL; empty for none."
        if number == 1
        else "Shown after display path 1; empty for none.",
    }


def rsa_output_schema() -> dict[str, Any]:
    """A Google responsive search ad with the reviewer's rationale and risk flags."""
    properties: dict[str, Any] = {
        "headlines": {
            "type": "array",
            "title": "Headlines",
            "description": (
                f"{HEADLINES.min_count} to {HEADLINES.max_count}, at most {HEADLINES.max_chars} "
                "characters each; Google shows up to three together, in any order."
            ),
            "items": _asset("headline", HEADLINES.max_chars, HEADLINES.pins),
            "minItems": HEADLINES.min_count,
            "maxItems": HEADLINES.max_count,
        },
        "descriptions": {
            "type": "array",
            "title": "Descriptions",
            "description": (
                f"{DESCRIPTIONS.min_count} to {DESCRIPTIONS.max_count}, at most "
                f"{DESCRIPTIONS.max_chars} characters each; Google shows up to two."
            ),
            "items": _asset("description", DESCRIPTIONS.max_chars, DESCRIPTIONS.pins),
            "minItems": DESCRIPTIONS.min_count,
            "maxItems": DESCRIPTIONS.max_count,
        },
        "path1": _display_path(1),
        "path2": _display_path(2),
        "rationale": {
            "type": "string",
            "minLength": 1,
            "maxLength": 300,
            "description": "Why these assets fit the search, for the reviewer.",
        },
        "risk_flags": {
            "type": "array",
            "description": "Anything a reviewer should check; empty when there is nothing.",
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


# --- Prompt v1 -----------------------------------------------------------------------------

SYSTEM_PROMPT = (
    f"You write Google responsive search ads for {PRODUCT}, a project analytics product for "
    "software teams.\n"
    "Work only from what the user message gives you: the campaign brief, who searches, the "
    "approved claims and the brand rules.\n"
    "Rules:\n"
    f"- Write 8 to {HEADLINES.max_count} headlines of at most {HEADLINES.max_chars} characters and "
    f"{DESCRIPTIONS.min_count} to {DESCRIPTIONS.max_count} descriptions of at most "
    f"{DESCRIPTIONS.max_chars} characters, spaces included.\n"
    "- Google shows up to three headlines and two descriptions together, in any order: each must "
    "read well on its own and next to any other.\n"
    "- Every headline says something different; never repeat a headline or a description.\n"
    "- A product fact, number or feature may appear only if an approved claim states it. Never make "
    "up prices, discounts, statistics, customer names or comparisons.\n"
    "- Obey every legal restriction; name no competitor.\n"
    "- Write a headline or description as a plain string. Pin one only when it must always show in "
    'one position: {"text": "...", "pin": 1}.\n'
    f"- path1 and path2 are single words shown after the domain, at most {PATH_MAX_CHARS} "
    'characters each; leave them "" when not needed, and set path2 only with path1.\n'
    "- Put anything a reviewer should check in risk_flags, and explain your choices in rationale.\n"
    "- Reply with one JSON object in the requested shape and nothing before or after it."
)

USER_TEMPLATE = "\n\n".join(
    [
        "Write one responsive search ad for the campaign below.",
        "## Campaign brief\n{{campaign_brief}}",
        "## Who searches\n{{audience}}",
        "## Approved claims (the only product facts you may state)\n{{approved_claims}}",
        "## Brand rules\n{{brand_rules}}",
        "## Legal restrictions\n{{legal_restrictions}}",
        "## Reply format\nReturn a single JSON object shaped like this:\n{{output_schema}}",
    ]
)

PROMPT_V1 = {
    "version": 1,
    "created_at": datetime(2026, 6, 8, 9, 0, tzinfo=UTC),
    "changelog": "First search ad prompt: claims only, Google's limits stated, no repeats.",
}


# --- Fallback content, segment and briefs --------------------------------------------------

FALLBACK_AD = {
    "headlines": [
        "Kestrel Boards",
        "Project Analytics for Teams",
        "Cycle Time Dashboards",
        "Jira and GitHub Issues in Sync",
        "Free Unlimited Viewer Seats",
        "Single Sign-On on Paid Plans",
        "Export Board Data Any Time",
    ],
    "descriptions": [
        "Issues from Jira and GitHub sync into Kestrel Boards every 5 minutes.",
        "Start from 20 ready-made dashboards for delivery, capacity and cycle time.",
        "Viewer seats are free and unlimited on the Team and Business plans.",
    ],
    "path1": "analytics",
    "path2": "dashboards",
    "rationale": (
        "Manually written fallback, used when generation fails: only the sync, dashboard, "
        "viewer-seat, single sign-on and export claims."
    ),
    "risk_flags": [],
}

SEARCH_SEGMENT = {
    "name": "Search: project analytics",
    "description": (
        "People searching for project analytics, cycle time or engineering dashboards; reached "
        "through search keywords, not a contact list, so it has no recipients."
    ),
    "source": "search_keywords",
}

BRIEFS: list[dict[str, Any]] = [
    {
        "name": "Kestrel Boards search: project analytics for engineering managers",
        "audience_role": "engineering manager",
        "plan_name": "Team",
        "key_facts": (
            "Keywords: project analytics, cycle time dashboard, engineering metrics.\n"
            "The ad leads to a free trial of the Team plan."
        ),
    },
    {
        "name": "Kestrel Boards search: Jira and GitHub sync for product managers",
        "audience_role": "product manager",
        "plan_name": "Team",
        "key_facts": (
            "Keywords: jira dashboard, github issues reporting, roadmap analytics.\n"
            "The ad leads to the integrations page."
        ),
    },
    {
        "name": "Kestrel Boards search: single sign-on and viewer seats for IT administrators",
        "audience_role": "IT administrator",
        "plan_name": "Business",
        "key_facts": (
            "Keywords: saml sso project tool, read-only dashboard seats.\n"
            "SSO is the usual short name for single sign-on."
        ),
    },
]


# --- Data contract, eval policy, routing ---------------------------------------------------

Input, Freshness, OnFailure = (
    InputRequirement.Input,
    InputRequirement.Freshness,
    InputRequirement.OnFailure,
)

# The registries only: nothing is sent to a person, so no audience or usage data is read.
PAID_SEARCH_CONTRACT = [
    (Input.APPROVED_CLAIMS, "claims_registry", Freshness.LATEST_APPROVED, None, OnFailure.STOP),
    (
        Input.LEGAL_RESTRICTIONS,
        "policy_repository",
        Freshness.LATEST_APPROVED,
        None,
        OnFailure.STOP,
    ),
    (
        Input.BRAND_RULES,
        "brand_documentation",
        Freshness.REVIEWED_WITHIN,
        90 * 24,
        OnFailure.WARN_AND_REVIEW,
    ),
]

# The general checks that fit an ad (no CTA-in-body, subject line or unsubscribe checks), then the
# search ad checks.
PAID_SEARCH_VALIDATORS = [
    "json_schema",
    "required_fields",
    "unsupported_offer_language",
    "restricted_terms",
    "grounding",
    "personalization_safety",
    "risk_flags_empty",
    "rsa_character_limits",
    "rsa_assets",
    "rsa_duplicates",
]

# (position, name, condition, team, extra fields): the first rule that holds decides.
PAID_SEARCH_RULES = [
    (
        10,
        "High risk to legal",
        RoutingRule.Condition.RISK_AT_LEAST,
        ReviewTeam.LEGAL,
        {"risk_level": RiskLevel.HIGH},
    ),
    (
        20,
        "Legal terms in review to legal",
        RoutingRule.Condition.CHECK_VERDICT,
        ReviewTeam.LEGAL,
        {"check_name": "restricted_terms", "verdicts": [Verdict.REVIEW, Verdict.FAIL]},
    ),
    (
        30,
        "Brand voice not passing to brand",
        RoutingRule.Condition.CHECK_VERDICT,
        ReviewTeam.BRAND,
        {"check_name": judge_check("brand_voice"), "verdicts": [Verdict.REVIEW, Verdict.FAIL]},
    ),
    (40, "Any judge failing to legal", RoutingRule.Condition.ANY_JUDGE_FAILS, ReviewTeam.LEGAL, {}),
    (90, "Everything else to brand", RoutingRule.Condition.ALWAYS, ReviewTeam.BRAND, {}),
]


# --- Loading -------------------------------------------------------------------------------


def _load_prompt(loader: DemoLoader) -> tuple[PromptTemplate, PromptVersion]:
    ops, admin = loader.users["ops"], loader.users["admin"]
    template = loader.upsert(
        PromptTemplate,
        {"slug": PAID_SEARCH_SLUG},
        {
            "name": "Paid search ad variants",
            "description": "Responsive search ad headlines and descriptions from the approved claims.",
        },
        by=ops,
    )
    version = loader.artifact(
        PromptVersion,
        version=PROMPT_V1["version"],
        scope={"template": template},
        content={
            "changelog": PROMPT_V1["changelog"],
            "system_prompt": SYSTEM_PROMPT,
            "user_template": USER_TEMPLATE,
            "output_schema": rsa_output_schema(),
            "temperature": Decimal("0.50"),
            "max_tokens": 800,
        },
        author=ops,
        approver=admin,
        target=ArtifactStatus.APPROVED,
        created_at=PROMPT_V1["created_at"],
    )
    return template, version


def _load_workflow(
    loader: DemoLoader, template: PromptTemplate, production: PromptVersion
) -> Workflow:
    admin = loader.users["admin"]
    workflow = loader.upsert(
        Workflow,
        {"slug": PAID_SEARCH_SLUG},
        {
            "name": "Paid search ad variants",
            "channel": Workflow.Channel.PAID_SEARCH,
            "description": (
                "Drafts one Google responsive search ad from the approved claims: up to 15 "
                "headlines, up to 4 descriptions and the display paths, with a rationale and "
                "risk flags for the reviewer."
            ),
            "prompt_template": template,
            "output_schema": rsa_output_schema(),
            "fallback_content": copy.deepcopy(FALLBACK_AD),
            "steps": default_steps(),
            "cohort_attributes": [],
        },
        by=admin,
    )
    if workflow.production_version_id is None:
        workflow.pin_production_version(
            production, by=admin, reason="Demo: v1 is the first approved search ad prompt."
        )
        loader.note("updated", f"{workflow.slug} pinned to {production.label}")
    return workflow


def _load_briefs(loader: DemoLoader, workflow: Workflow) -> None:
    ops = loader.users["ops"]
    segment = loader.upsert(
        AudienceSegment, {"slug": SEARCH_SEGMENT_SLUG}, dict(SEARCH_SEGMENT), by=ops
    )
    for spec in BRIEFS:
        values = {k: v for k, v in spec.items() if k != "name"}
        loader.upsert(
            CampaignBrief,
            {"workflow": workflow, "name": spec["name"]},
            {"audience_segment": segment, **values},
            by=ops,
            pre_save=lambda brief: setattr(brief, "created_by", ops),
        )


def _load_policy(workflow: Workflow, users) -> list[str]:
    if EvalPolicy.objects.filter(workflow=workflow).exists():
        return []
    policy = EvalPolicy(
        workflow=workflow,
        validators=list(PAID_SEARCH_VALIDATORS),  # field_limits stay unused: no length_limits
        known_features=list(DEMO_FEATURES),
        known_competitors=list(DEMO_COMPETITORS),
    )
    policy.full_clean()
    with_history_context(policy, by=users["ops"], reason="Demo eval policy for search ads")
    policy.save()
    return [f"eval policy for {workflow.slug}"]


def load_paid_search(loader: DemoLoader) -> Workflow:
    """The paid search workflow, its prompt, briefs, contract, checks and routing; idempotent."""
    template, production = _load_prompt(loader)
    workflow = _load_workflow(loader, template, production)
    _load_briefs(loader, workflow)
    changes = load_demo_contract(
        workflow=workflow, by=loader.users["ops"], contract=PAID_SEARCH_CONTRACT
    )
    changes += _load_policy(workflow, loader.users)
    changes += load_demo_approvals(workflow=workflow, users=loader.users, rules=PAID_SEARCH_RULES)
    for change in changes:
        loader.note("created", change)
    return workflow
