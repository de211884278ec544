"""The demo's approved input registries: claims v13 and v14, brand rules v5 and v6, legal restrictions v3."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from workflows.models import (
    ArtifactStatus,
    BrandRules,
    Claim,
    ClaimSet,
    LegalRestrictionSet,
    VersionedArtifact,
)

if TYPE_CHECKING:
    from demo.loader import DemoLoader


def _claims_v13(today: date) -> list[dict[str, Any]]:
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
            "key": "jira_github_sync",
            "text": "Issues from Jira and GitHub sync into Kestrel Boards every 5 minutes.",
        },
        {
            "key": "dashboard_templates",
            "text": "New workspaces can start from 20 ready-made dashboards for delivery, capacity and cycle time.",
        },
        {
            "key": "data_export",
            "text": "Board data can be exported at any time as CSV or through the REST API.",
        },
        {"key": "forecasting_beta", "text": "Delivery forecasting is free while it is in beta."},
        {
            "key": "spring_annual_offer",
            "text": "Annual plans bought during the spring promotion include two extra months.",
            "expires_on": today - timedelta(days=30),
        },
    ]


def _claims_v14(today: date) -> list[dict[str, Any]]:
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
            "key": "jira_github_sync",
            "text": "Issues from Jira and GitHub sync into Kestrel Boards every 5 minutes.",
        },
        {
            "key": "dashboard_templates",
            "text": "New workspaces can start from 20 ready-made dashboards for delivery, capacity and cycle time.",
        },
        {
            "key": "data_export",
            "text": "Board data can be exported at any time as CSV or through the REST API.",
        },
        {
            "key": "trial_data_kept",
            "text": "Trial workspaces keep their boards and data for 30 days after the trial ends.",
        },
        # Forecasting left beta: the claim stays on record but may no longer be used.
        {
            "key": "forecasting_beta",
            "text": "Delivery forecasting is free while it is in beta.",
            "status": Claim.Status.RETIRED,
        },
        # The promotion is over: the claim is past its expiry date and is left out of prompts.
        {
            "key": "spring_annual_offer",
            "text": "Annual plans bought during the spring promotion include two extra months.",
            "expires_on": today - timedelta(days=30),
        },
    ]


BRAND_RULES_V5 = "\n".join(
    [
        "Write to one person, in the second person.",
        "Name the product Kestrel Boards; never abbreviate it.",
        "Keep sentences short and avoid jargon.",
        "No exclamation marks.",
        "End with a single call to action.",
    ]
)

BRAND_RULES_V6 = "\n".join(
    [
        "Write to one reader, in their role, about what they can get done; not about the product's internals.",
        "Say Kestrel Boards in full on first mention, Kestrel after that; never KB.",
        "Keep sentences under 20 words; no exclamation marks.",
        "Say workspace, not account or instance.",
        "Leave out hype words such as revolutionary, game-changing, seamless or supercharge.",
        "Use exactly one call to action, starting with a verb, e.g. Choose a plan.",
    ]
)

LEGAL_RESTRICTIONS_V3 = "\n".join(
    [
        "Name a security or compliance standard (SOC 2, HIPAA, GDPR, ISO 27001) only when an approved claim states it.",
        "Promise no uptime, results, savings or returns; never call anything guaranteed.",
        "Quote prices, discounts and deadlines only as the brief's offer states them.",
        "Do not mention or compare with competitors.",
        "Refer to the reader's data only as far as the product usage summary describes it.",
        "Write no unsubscribe or address text: the email platform appends the legal footer.",
    ]
)

RESTRICTED_TERMS = ["SOC 2", "HIPAA", "GDPR", "ISO 27001", "guarantee", "guaranteed", "100% uptime"]


def load_registries(loader: DemoLoader) -> list[VersionedArtifact]:
    # Nobody approves what they wrote: ops drafts claims, the admin drafts brand and legal text.
    ops, legal, brand, admin = (
        loader.users["ops"],
        loader.users["legal"],
        loader.users["brand"],
        loader.users["admin"],
    )
    loader.artifact(
        ClaimSet,
        version=13,
        content={"changelog": "Adds the spring annual promotion and delivery forecasting beta."},
        author=ops,
        approver=legal,
        target=ArtifactStatus.ARCHIVED,
        created_at=loader.now - timedelta(days=75),
        claims=_claims_v13(loader.today),
    )
    claims = loader.artifact(
        ClaimSet,
        version=14,
        content={"changelog": "Retires the forecasting beta claim; adds trial data retention."},
        author=ops,
        approver=legal,
        target=ArtifactStatus.APPROVED,
        created_at=loader.now - timedelta(days=12),
        claims=_claims_v14(loader.today),
    )
    loader.artifact(
        BrandRules,
        version=5,
        content={
            "changelog": "Voice rules from the 2025 brand book.",
            "rules": BRAND_RULES_V5,
            "reviewed_at": loader.now - timedelta(days=140),
        },
        author=admin,
        approver=brand,
        target=ArtifactStatus.ARCHIVED,
        created_at=loader.now - timedelta(days=140),
    )
    brand_rules = loader.artifact(
        BrandRules,
        version=6,
        content={
            "changelog": "Terminology (workspace), hype-word list and a single verb-first CTA.",
            "rules": BRAND_RULES_V6,
            "reviewed_at": loader.now - timedelta(days=20),
        },
        author=admin,
        approver=brand,
        target=ArtifactStatus.APPROVED,
        created_at=loader.now - timedelta(days=20),
    )
    legal_set = loader.artifact(
        LegalRestrictionSet,
        version=3,
        content={
            "changelog": "Adds ISO 27001 and uptime promises to the restricted terms.",
            "restrictions": LEGAL_RESTRICTIONS_V3,
            "restricted_terms": list(RESTRICTED_TERMS),
        },
        author=admin,
        approver=legal,
        target=ArtifactStatus.APPROVED,
        created_at=loader.now - timedelta(days=45),
    )
    return [claims, brand_rules, legal_set]
