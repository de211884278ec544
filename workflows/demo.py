"""Demo data: one complete trial-expiration email workflow to explore locally.

``load_demo()`` creates role users, audience segments, the approved input registries
(claims_v14, brand_v6, legal_v3), the prompt history v4..v7 with v7 in production, the
workflow with its fallback content, and five campaign briefs, all for the fictional product
"Kestrel Boards" (project analytics for software teams).

It is idempotent: objects are looked up by natural key (username, slug, version, brief name)
and only missing objects are created or drifted fields restored, so a second run writes
nothing. Approved versions are frozen, so existing ones are never edited, and lifecycle
states set since (a newer approved version, a different pinned prompt) are left alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from workflows.models import (
    ArtifactStatus,
    AudienceSegment,
    BrandRules,
    CampaignBrief,
    Claim,
    ClaimSet,
    LegalRestrictionSet,
    PromptTemplate,
    PromptVersion,
    VersionedArtifact,
    Workflow,
    with_history_context,
    default_steps,
)

# Known passwords: for a local demo only, which is why load_demo() refuses to run unless MARKETINGAI_DEMO is on.
DEMO_PASSWORDS = {
    "admin": "admin-demo",
    "ops": "ops-demo",
    "legal": "legal-demo",
    "brand": "brand-demo",
    "manager": "manager-demo",
    "lifecycle": "lifecycle-demo",
    "product": "product-demo",
}

# username -> (first name, last name, role group or None)
DEMO_USERS: dict[str, tuple[str, str, str | None]] = {
    "admin": ("Ada", "Okafor", None),
    "ops": ("Priya", "Raman", "Marketing ops"),
    "legal": ("Tomás", "Lindqvist", "Legal reviewers"),
    "brand": ("Mei", "Castellano", "Brand reviewers"),
    "manager": ("Jonah", "Abernathy", "Managers"),
    "lifecycle": ("Noor", "Haddad", "Lifecycle marketing reviewers"),
    "product": ("Felix", "Brandt", "Product marketing reviewers"),
}

# The service account commands and schedules act as without --user: no roles, no password.
# `make run` sets MARKETINGAI_SERVICE_USER to it.
DEMO_SERVICE_USER = "marketingai-bot"

PRODUCT = "Kestrel Boards"
WORKFLOW_SLUG = "trial_expiration_email"
DEMO_REASON = "Demo data"


# --- Output contracts --------------------------------------------------------------------


def email_output_schema(*, subject_max_length: int, with_risk_flags: bool) -> dict[str, Any]:
    """The trial-expiration email contract as one prompt version asks for it."""

    def text(max_length: int, description: str) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": max_length, "description": description}

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
    sections.append("## Reply format\nReturn a single JSON object shaped like this:\n{{output_schema}}")
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


# --- Registries ----------------------------------------------------------------------------


def _claims_v13(today: date) -> list[dict[str, Any]]:
    return [
        {"key": "sso_all_plans", "text": "Single sign-on with SAML or OIDC is included on every paid plan."},
        {"key": "unlimited_viewers", "text": "Viewer seats are free and unlimited on the Team and Business plans."},
        {"key": "jira_github_sync", "text": "Issues from Jira and GitHub sync into Kestrel Boards every 5 minutes."},
        {"key": "dashboard_templates", "text": "New workspaces can start from 20 ready-made dashboards for delivery, capacity and cycle time."},
        {"key": "data_export", "text": "Board data can be exported at any time as CSV or through the REST API."},
        {"key": "forecasting_beta", "text": "Delivery forecasting is free while it is in beta."},
        {"key": "spring_annual_offer", "text": "Annual plans bought during the spring promotion include two extra months.",
         "expires_on": today - timedelta(days=30)},
    ]


def _claims_v14(today: date) -> list[dict[str, Any]]:
    return [
        {"key": "sso_all_plans", "text": "Single sign-on with SAML or OIDC is included on every paid plan."},
        {"key": "unlimited_viewers", "text": "Viewer seats are free and unlimited on the Team and Business plans."},
        {"key": "jira_github_sync", "text": "Issues from Jira and GitHub sync into Kestrel Boards every 5 minutes."},
        {"key": "dashboard_templates", "text": "New workspaces can start from 20 ready-made dashboards for delivery, capacity and cycle time."},
        {"key": "data_export", "text": "Board data can be exported at any time as CSV or through the REST API."},
        {"key": "trial_data_kept", "text": "Trial workspaces keep their boards and data for 30 days after the trial ends."},
        # Forecasting left beta: the claim stays on record but may no longer be used.
        {"key": "forecasting_beta", "text": "Delivery forecasting is free while it is in beta.",
         "status": Claim.Status.RETIRED},
        # The promotion is over: the claim is past its expiry date and is left out of prompts.
        {"key": "spring_annual_offer", "text": "Annual plans bought during the spring promotion include two extra months.",
         "expires_on": today - timedelta(days=30)},
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


# --- Audience and briefs ----------------------------------------------------------------------

# slug -> (name, description, source, age of the last refresh when created)
SEGMENTS: dict[str, tuple[str, str, str, timedelta]] = {
    "trial_ending_3_days": (
        "Trials ending in 3 days",
        "Trial workspaces whose trial ends within 72 hours; upgraded and opted-out contacts are excluded.",
        "cdp",
        timedelta(hours=3),
    ),
    "trial_ended_7_days": (
        "Trials ended in the last 7 days",
        "Workspaces whose trial ended during the past week without choosing a plan.",
        "cdp",
        timedelta(hours=5),
    ),
    "team_plan_admins": (
        "Team plan workspace admins",
        "Admins of paying Team plan workspaces; exported nightly from the CRM, so often stale.",
        "crm",
        timedelta(hours=30),
    ),
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
                "offer_expires_at": (now + timedelta(days=10)).replace(hour=23, minute=59, second=0, microsecond=0),
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


# --- Summary -------------------------------------------------------------------------------


@dataclass
class DemoSummary:
    users: list[tuple[str, str, str]]  # (username, password, role)
    counts: dict[str, int]
    workflow: str = ""
    production_version: str = ""
    inputs_in_force: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.updated)

    def lines(self) -> list[str]:
        if self.changed_anything:
            head = f"Demo data loaded: {len(self.created)} objects created, {len(self.updated)} updated."
        else:
            head = "Demo data already in place: nothing changed."
        lines = [
            head,
            f"Workflow {self.workflow} serves {self.production_version or 'no pinned prompt'}.",
            f"Inputs in force: {', '.join(self.inputs_in_force) or 'none'}.",
            "Counts: " + ", ".join(f"{name} {n}" for name, n in self.counts.items()) + ".",
            "Demo users (local use only: these passwords are public):",
        ]
        lines += [f"  {username:<8} {password:<14} {role}" for username, password, role in self.users]
        lines.append(
            f"Service account: {DEMO_SERVICE_USER} (no password, no role); commands without --user act as it "
            f"when MARKETINGAI_SERVICE_USER={DEMO_SERVICE_USER}."
        )
        return lines


# --- Loading -------------------------------------------------------------------------------


class _Loader:
    def __init__(self, *, stdout=None):
        self.stdout = stdout
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.created: list[str] = []
        self.updated: list[str] = []
        self.users: dict[str, Any] = {}

    def note(self, kind: str, text: str) -> None:
        (self.created if kind == "created" else self.updated).append(text)
        if self.stdout is not None:
            self.stdout.write(f"  {kind} {text}")

    # Generic helpers -----------------------------------------------------------------

    def upsert(
        self,
        model: type[models.Model],
        lookup: dict[str, Any],
        values: dict[str, Any],
        *,
        by,
        create_only: dict[str, Any] | None = None,
        pre_save=None,
    ) -> models.Model:
        """Create by natural key, or restore drifted ``values``; ``create_only`` is set once."""
        obj = model.objects.filter(**lookup).first()
        if obj is None:
            obj = model(**lookup, **values, **(create_only or {}))
            if pre_save:
                pre_save(obj)
            obj.full_clean()
            with_history_context(obj, by=by, reason=DEMO_REASON)
            obj.save()
            self.note("created", f"{model._meta.verbose_name} {obj}")
            return obj
        changed = [name for name, value in values.items() if getattr(obj, name) != value]
        if changed:
            for name in changed:
                setattr(obj, name, values[name])
            obj.full_clean()
            with_history_context(obj, by=by, reason=f"{DEMO_REASON}: restored {', '.join(changed)}")
            obj.save(update_fields=changed)
            self.note("updated", f"{model._meta.verbose_name} {obj} ({', '.join(changed)})")
        return obj

    def artifact(
        self,
        model: type[VersionedArtifact],
        *,
        version: int,
        content: dict[str, Any],
        author,
        approver,
        target: str,
        scope: dict[str, Any] | None = None,
        created_at: datetime | None = None,
        claims: list[dict[str, Any]] | None = None,
    ) -> VersionedArtifact:
        """Ensure version ``version`` exists and reaches ``target`` through the lifecycle methods.

        An existing frozen version is never edited; a later state (archived, superseded) is kept.
        """
        scope = scope or {}
        obj = model.objects.filter(version=version, **scope).first()
        if obj is None:
            obj = model(version=version, author=author, **scope, **content)
            if created_at is not None:
                obj.created_at = created_at
            obj.full_clean()
            with_history_context(obj, by=author, reason=f"{DEMO_REASON}: {obj.changelog or 'new version'}")
            obj.save()
            self.note("created", str(obj))
        if claims is not None and obj.status == ArtifactStatus.DRAFT:
            existing = set(obj.claims.values_list("key", flat=True))
            for values in claims:
                if values["key"] in existing:
                    continue
                claim = Claim(claim_set=obj, **values)
                claim.full_clean()
                with_history_context(claim, by=author, reason=DEMO_REASON)
                claim.save()
                self.note("created", f"claim {claim}")
        if obj.status == ArtifactStatus.DRAFT and target in (ArtifactStatus.APPROVED, ArtifactStatus.ARCHIVED):
            obj.approve(by=approver, reason=f"{DEMO_REASON}: approved {obj}")
            self.note("updated", f"{obj} approved by {approver}")
        if obj.status == ArtifactStatus.APPROVED and target == ArtifactStatus.ARCHIVED:
            obj.archive(by=approver, reason=f"{DEMO_REASON}: archived {obj}")
            self.note("updated", f"{obj} archived")
        return obj

    # The demo ------------------------------------------------------------------------------

    def load_users(self) -> None:
        from approvals.roles import roles_sync  # approvals owns the role groups

        groups = {group.name: group for group in roles_sync()}
        User = get_user_model()
        for username, (first_name, last_name, group_name) in DEMO_USERS.items():
            is_admin = username == "admin"
            values = {
                "first_name": first_name,
                "last_name": last_name,
                "email": f"{username}@kestrel.example",
                "is_staff": True,
                "is_superuser": is_admin,
                "is_active": True,
            }
            user = User.objects.filter(username=username).first()
            created = user is None
            if created:
                user = User(username=username, **values)
                user.set_password(DEMO_PASSWORDS[username])
                user.save()
                self.note("created", f"user {username}")
            else:
                changed = [name for name, value in values.items() if getattr(user, name) != value]
                if not user.has_usable_password():
                    user.set_password(DEMO_PASSWORDS[username])
                    changed.append("password")
                if changed:
                    for name in changed:
                        if name != "password":
                            setattr(user, name, values[name])
                    user.save()
                    self.note("updated", f"user {username} ({', '.join(changed)})")
            wanted = {groups[group_name].pk} if group_name else set()
            if set(user.groups.values_list("pk", flat=True)) != wanted:
                user.groups.set(wanted)
                if not created:
                    self.note("updated", f"user {username} groups ({group_name or 'none'})")
            self.users[username] = user
        self.load_service_user()

    def load_service_user(self) -> None:
        User = get_user_model()
        values = {
            "first_name": "marketingai",
            "last_name": "service account",
            "is_staff": False,
            "is_superuser": False,
            "is_active": True,
        }
        user = User.objects.filter(username=DEMO_SERVICE_USER).first()
        if user is None:
            user = User(username=DEMO_SERVICE_USER, **values)
            user.set_unusable_password()
            user.save()
            self.note("created", f"service account {DEMO_SERVICE_USER}")
        else:
            changed = [name for name, value in values.items() if getattr(user, name) != value]
            if changed:
                for name in changed:
                    setattr(user, name, values[name])
                user.save(update_fields=changed)
                self.note("updated", f"service account {DEMO_SERVICE_USER} ({', '.join(changed)})")
        if user.groups.exists():
            user.groups.clear()
            self.note("updated", f"service account {DEMO_SERVICE_USER} groups (none)")

    def load_segments(self) -> AudienceSegment:
        for slug, (name, description, source, age) in SEGMENTS.items():
            self.upsert(
                AudienceSegment,
                {"slug": slug},
                {"name": name, "description": description, "source": source},
                create_only={"refreshed_at": self.now - age},
                by=self.users["ops"],
            )
        return AudienceSegment.objects.get(slug="trial_ending_3_days")

    def load_registries(self) -> list[VersionedArtifact]:
        # Nobody approves what they wrote: ops drafts claims, the admin drafts brand and legal text.
        ops, legal, brand, admin = self.users["ops"], self.users["legal"], self.users["brand"], self.users["admin"]
        self.artifact(
            ClaimSet,
            version=13,
            content={"changelog": "Adds the spring annual promotion and delivery forecasting beta."},
            author=ops,
            approver=legal,
            target=ArtifactStatus.ARCHIVED,
            created_at=self.now - timedelta(days=75),
            claims=_claims_v13(self.today),
        )
        claims = self.artifact(
            ClaimSet,
            version=14,
            content={"changelog": "Retires the forecasting beta claim; adds trial data retention."},
            author=ops,
            approver=legal,
            target=ArtifactStatus.APPROVED,
            created_at=self.now - timedelta(days=12),
            claims=_claims_v14(self.today),
        )
        self.artifact(
            BrandRules,
            version=5,
            content={
                "changelog": "Voice rules from the 2025 brand book.",
                "rules": BRAND_RULES_V5,
                "reviewed_at": self.now - timedelta(days=140),
            },
            author=admin,
            approver=brand,
            target=ArtifactStatus.ARCHIVED,
            created_at=self.now - timedelta(days=140),
        )
        brand_rules = self.artifact(
            BrandRules,
            version=6,
            content={
                "changelog": "Terminology (workspace), hype-word list and a single verb-first CTA.",
                "rules": BRAND_RULES_V6,
                "reviewed_at": self.now - timedelta(days=20),
            },
            author=admin,
            approver=brand,
            target=ArtifactStatus.APPROVED,
            created_at=self.now - timedelta(days=20),
        )
        legal_set = self.artifact(
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
            created_at=self.now - timedelta(days=45),
        )
        return [claims, brand_rules, legal_set]

    def load_prompts(self) -> tuple[PromptTemplate, PromptVersion]:
        ops, admin = self.users["ops"], self.users["admin"]
        template = self.upsert(
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
            versions[spec["version"]] = self.artifact(
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

    def load_workflow(self, template: PromptTemplate, production: PromptVersion) -> Workflow:
        admin = self.users["admin"]
        contract = email_output_schema(subject_max_length=48, with_risk_flags=True)
        workflow = self.upsert(
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
            self.note("updated", f"{workflow.slug} pinned to {production.label}")
        return workflow

    def load_briefs(self, workflow: Workflow, segment: AudienceSegment) -> None:
        ops = self.users["ops"]
        for spec in _briefs(self.now):
            values = {k: v for k, v in spec.items() if k not in {"name", "dated"}}
            self.upsert(
                CampaignBrief,
                {"workflow": workflow, "name": spec["name"]},
                {"audience_segment": segment, **values},
                create_only=spec["dated"],
                by=ops,
                pre_save=lambda brief: setattr(brief, "created_by", ops),
            )

    def load_inputs(self, workflow: Workflow, segment: AudienceSegment) -> None:
        """The data contract, the demo CDP source and its recipients (see inputs.demo)."""
        from inputs import demo as inputs_demo

        ops = self.users["ops"]
        changes = inputs_demo.load_demo_contract(workflow=workflow, by=ops)
        changes += inputs_demo.load_demo_source(segment=segment, by=ops)
        changes += inputs_demo.load_demo_audience(segment=segment, by=ops, now=self.now)
        from evals.demo import load_demo_evals

        changes += load_demo_evals(workflow=workflow, users=self.users)
        # The review teams and routing rules, by dotted path: workflows does not import approvals.
        changes += import_string("approvals.demo.load_demo_approvals")(workflow=workflow, users=self.users)
        for change in changes:
            self.note("created", change)

    def summary(self, workflow: Workflow, inputs: list[VersionedArtifact]) -> DemoSummary:
        from django.contrib.auth.models import Group

        workflow.refresh_from_db()
        counted = [
            ("users", get_user_model()),
            ("groups", Group),
            ("segments", AudienceSegment),
            ("claim sets", ClaimSet),
            ("claims", Claim),
            ("brand rules", BrandRules),
            ("legal sets", LegalRestrictionSet),
            ("prompt versions", PromptVersion),
            ("workflows", Workflow),
            ("briefs", CampaignBrief),
        ]
        return DemoSummary(
            users=[
                (username, DEMO_PASSWORDS[username], group or "superuser")
                for username, (_, _, group) in DEMO_USERS.items()
            ],
            counts={name: model.objects.count() for name, model in counted},
            workflow=workflow.slug,
            production_version=workflow.production_version.label if workflow.production_version else "",
            inputs_in_force=[str(obj) for obj in inputs if obj.status == ArtifactStatus.APPROVED],
            created=self.created,
            updated=self.updated,
        )


def load_demo(*, stdout=None, force: bool = False) -> DemoSummary:
    """Create (or complete) the demo data set; a second run changes nothing.

    Refuses unless the demo is switched on (MARKETINGAI_DEMO); ``force`` is for in-process
    callers that own their database (tests, benchmarks), never offered on the command line.
    """
    if not settings.MARKETINGAI_DEMO and not force:
        raise ValueError(
            "The demo creates staff users with published passwords, so it only loads with MARKETINGAI_DEMO=1 "
            "(set by `make run`); never switch it on for a shared server."
        )
    loader = _Loader(stdout=stdout)
    with transaction.atomic():
        loader.load_users()
        segment = loader.load_segments()
        inputs = loader.load_registries()
        template, production = loader.load_prompts()
        workflow = loader.load_workflow(template, production)
        loader.load_briefs(workflow, segment)
        loader.load_inputs(workflow, segment)
        return loader.summary(workflow, inputs)
