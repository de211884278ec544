"""Role groups: who may prepare inputs, who reviews and approves them, who only watches.

``ROLE_PERMISSIONS`` is the single source of truth; ``roles_sync()`` makes the auth groups
match it exactly (idempotent: permissions not listed are removed from the group).
"""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS, transaction

MARKETING_OPS = "Marketing ops"
LEGAL_REVIEWERS = "Legal reviewers"
BRAND_REVIEWERS = "Brand reviewers"
LIFECYCLE_REVIEWERS = "Lifecycle marketing reviewers"
PRODUCT_MARKETING_REVIEWERS = "Product marketing reviewers"
MANAGERS = "Managers"


def _perms(
    actions: tuple[str, ...], models: tuple[str, ...], app_label: str = "workflows"
) -> list[str]:
    return [f"{app_label}.{action}_{model}" for model in models for action in actions]


# What ops prepare: briefs, claims drafts, prompt drafts, segments.
_OPS_EDITS = (
    "campaignbrief",
    "claimset",
    "claim",
    "promptversion",
    "prompttemplate",
    "audiencesegment",
)
# What ops read but do not change: runs and their evidence, the registries reviewers own.
_OPS_READS = ("workflow", "run", "runoutput", "trace", "brandrules", "legalrestrictionset")
# What a reviewer needs to see to judge an input or an output.
_REVIEWER_READS = (
    "run",
    "runoutput",
    "trace",
    "workflow",
    "campaignbrief",
    "claimset",
    "claim",
    "promptversion",
    "prompttemplate",
    "brandrules",
    "legalrestrictionset",
    "audiencesegment",
)

# "app_label.codename"; a codename ending in "*" means every codename of the app with that prefix.
# Inputs: ops load audiences and keep data contracts; everyone who reviews a run sees its data check.
# Recipients are never edited: ops import or pull new snapshots of a segment.
_OPS_INPUT_EDITS = ("audiencesource", "inputrequirement")
_OPS_INPUT_READS = ("recipient", "audienceimport", "datacheck", "recipientassignment")
_REVIEWER_INPUT_READS = ("datacheck", "inputrequirement", "audienceimport")

# Approvals: reviewers work their queues and decide; ops and managers see items and decisions.
_APPROVAL_READS = ("approvalitem", "decision", "reviewteam", "notification")
# Ad analytics: ops import and pull the daily rows and keep each review's settings and sources;
# everyone who reviews a run sees the comparison it summarised.
_OPS_ANALYTICS_EDITS = ("analyticssource", "performancereviewsettings")
_OPS_ANALYTICS_READS = ("analyticsimport", "addailyrow", "adcomparison")
_REVIEWER_ANALYTICS_READS = ("adcomparison", "performancereviewsettings")

_REVIEWER_APPROVALS = [
    *_perms(("view",), (*_APPROVAL_READS, "reviewqueueitem", "routingrule"), app_label="approvals"),
    "approvals.decide_approvalitem",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING_OPS: [
        *_perms(("add", "change", "view"), _OPS_EDITS),
        *_perms(("view",), _OPS_READS),
        *_perms(("add", "change", "view"), _OPS_INPUT_EDITS, app_label="inputs"),
        *_perms(("view",), _OPS_INPUT_READS, app_label="inputs"),
        "inputs.import_recipient",
        *_perms(("add", "change", "view"), _OPS_ANALYTICS_EDITS, app_label="analytics"),
        *_perms(("view",), _OPS_ANALYTICS_READS, app_label="analytics"),
        "analytics.import_analytics",
        "workflows.start_run",
        *_perms(("view",), _APPROVAL_READS, app_label="approvals"),
        # Evals: ops import datasets and outcomes, run suites and request promotions; a manager approves.
        *_perms(("add", "change", "view"), ("evaldataset", "campaignoutcome"), app_label="evals"),
        *_perms(
            ("view",),
            (
                "evaldatasetitem",
                "evalsuiterun",
                "evalsuiteresult",
                "promotionrequest",
                "promotioncriteria",
            ),
            app_label="evals",
        ),
        "evals.start_evalsuiterun",
        "evals.request_promotion",
        # Publishing: ops configure destinations and the suppression list; a manager presses Publish.
        *_perms(("add", "change", "view"), ("destination", "suppressedaddress"), "publishing"),
        *_perms(("view",), ("publishattempt", "publishrequest"), app_label="publishing"),
        # Triggers: ops configure what starts runs by itself (runs start as the service account).
        *_perms(("add", "change", "view"), ("trigger",), app_label="triggers"),
        *_perms(("view",), ("triggerfiring",), app_label="triggers"),
        # Measurement: ops configure event webhooks and import events (e.g. conversions).
        *_perms(("add", "change", "view"), ("eventwebhook",), app_label="measurement"),
        *_perms(("view",), ("campaignevent", "eventingest"), app_label="measurement"),
        "measurement.import_events",
    ],
    LEGAL_REVIEWERS: [
        *_perms(("view",), _REVIEWER_READS),
        *_perms(("view",), _REVIEWER_INPUT_READS, app_label="inputs"),
        *_perms(("view",), _REVIEWER_ANALYTICS_READS, app_label="analytics"),
        "workflows.approve_legalrestrictionset",
        "workflows.approve_claimset",
        *_REVIEWER_APPROVALS,
    ],
    BRAND_REVIEWERS: [
        *_perms(("view",), _REVIEWER_READS),
        *_perms(("view",), _REVIEWER_INPUT_READS, app_label="inputs"),
        *_perms(("view",), _REVIEWER_ANALYTICS_READS, app_label="analytics"),
        "workflows.approve_brandrules",
        *_REVIEWER_APPROVALS,
    ],
    LIFECYCLE_REVIEWERS: [
        *_perms(("view",), _REVIEWER_READS),
        *_perms(("view",), _REVIEWER_INPUT_READS, app_label="inputs"),
        *_perms(("view",), _REVIEWER_ANALYTICS_READS, app_label="analytics"),
        *_REVIEWER_APPROVALS,
    ],
    PRODUCT_MARKETING_REVIEWERS: [
        *_perms(("view",), _REVIEWER_READS),
        *_perms(("view",), _REVIEWER_INPUT_READS, app_label="inputs"),
        *_perms(("view",), _REVIEWER_ANALYTICS_READS, app_label="analytics"),
        *_REVIEWER_APPROVALS,
    ],
    MANAGERS: [
        "workflows.view_*",
        "inputs.view_*",
        "approvals.view_*",
        "approvals.export_decision",
        "evals.view_*",
        "evals.approve_promotion",
        "publishing.view_*",
        "publishing.publish_run",
        "triggers.view_*",
        "analytics.view_*",
        "measurement.view_*",
        # Rollouts: a manager moves a candidate through its stages (promotion stays two-person).
        "rollouts.view_*",
        "rollouts.manage_rollout",
    ],
}


def ensure_permissions_exist(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create model permissions now (migrate's post_migrate does it too; this makes it explicit)."""
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)


def resolve_permissions(names: list[str]) -> list[Permission]:
    """The Permission rows for ``names``; ValueError naming every one that does not exist."""
    found: dict[int, Permission] = {}
    missing: list[str] = []
    for name in names:
        app_label, dot, codename = name.partition(".")
        if not dot or not app_label or not codename:
            missing.append(name)
            continue
        perms = Permission.objects.filter(content_type__app_label=app_label)
        if codename.endswith("*"):
            perms = perms.filter(codename__startswith=codename[:-1])
        else:
            perms = perms.filter(codename=codename)
        rows = list(perms.select_related("content_type"))
        if not rows:
            missing.append(name)
        found.update((p.pk, p) for p in rows)
    if missing:
        raise ValueError(
            f"These permissions do not exist: {', '.join(missing)}. "
            "Check ROLE_PERMISSIONS against the models' permissions (and that migrate has run)."
        )
    return sorted(found.values(), key=lambda p: (p.content_type.app_label, p.codename))


def roles_sync() -> list[Group]:
    """Create or update the role groups so their permissions are exactly ROLE_PERMISSIONS."""
    ensure_permissions_exist()
    # Resolve everything before writing, so an unknown codename changes nothing.
    resolved = {
        group_name: resolve_permissions(names) for group_name, names in ROLE_PERMISSIONS.items()
    }
    groups = []
    with transaction.atomic():
        for group_name, permissions in resolved.items():
            group, _ = Group.objects.get_or_create(name=group_name)
            group.permissions.set(permissions)
            groups.append(group)
    return groups
