"""The demo's audience: its segments, data contract, HTTP source and recipients (fresh, stale and opted-out)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from demo.cdp import DEMO_CDP_TOKEN_ENV, DEMO_FIELD_MAPPING, DEMO_RECORDS_PATH, demo_members
from inputs.models import AudienceImport, AudienceSource, InputRequirement
from workflows.models import AudienceSegment, with_history_context

if TYPE_CHECKING:
    from demo.loader import DemoLoader

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


def load_segments(loader: DemoLoader) -> AudienceSegment:
    for slug, (name, description, source, age) in SEGMENTS.items():
        loader.upsert(
            AudienceSegment,
            {"slug": slug},
            {"name": name, "description": description, "source": source},
            create_only={"refreshed_at": loader.now - age},
            by=loader.users["ops"],
        )
    return AudienceSegment.objects.get(slug="trial_ending_3_days")


Input, Freshness, OnFailure = (
    InputRequirement.Input,
    InputRequirement.Freshness,
    InputRequirement.OnFailure,
)

# The reference data contract of the trial expiration email.
DEMO_CONTRACT = [
    (Input.AUDIENCE_SEGMENT, "cdp", Freshness.UPDATED_WITHIN, 24, OnFailure.STOP),
    (
        Input.PRODUCT_USAGE_SUMMARY,
        "warehouse",
        Freshness.UPDATED_WITHIN,
        6,
        OnFailure.GENERIC_AND_FLAG,
    ),
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
# The demo audience is re-imported when older than this, so a demo loaded yesterday still runs today.
DEMO_AUDIENCE_MAX_AGE = timedelta(hours=12)


def load_demo_contract(*, workflow, by, contract=None) -> list[str]:
    """The workflow's data contract: ``contract`` rows (default: the trial email's)."""
    changed = []
    for input_name, source, freshness, max_age_hours, on_failure in contract or DEMO_CONTRACT:
        values = {
            "source": source,
            "freshness": freshness,
            "max_age_hours": max_age_hours,
            "on_failure": on_failure,
        }
        requirement = InputRequirement.objects.filter(
            workflow=workflow, input_name=input_name
        ).first()
        if requirement is not None and all(getattr(requirement, k) == v for k, v in values.items()):
            continue
        requirement = requirement or InputRequirement(workflow=workflow, input_name=input_name)
        for name, value in values.items():
            setattr(requirement, name, value)
        requirement.full_clean()
        with_history_context(requirement, by=by, reason="Demo data contract")
        requirement.save()
        changed.append(f"data contract: {input_name}")
    return changed


def load_demo_source(*, segment, by) -> list[str]:
    port = os.environ.get("MARKETINGAI_ADMIN_PORT", "8000")
    values = {
        "url": f"http://127.0.0.1:{port}/demo-cdp/segments/{segment.slug}/recipients.json",
        "auth_header": "Authorization",
        "auth_secret": DEMO_CDP_TOKEN_ENV,
        "records_path": DEMO_RECORDS_PATH,
        "field_mapping": DEMO_FIELD_MAPPING,
    }
    source = AudienceSource.objects.filter(segment=segment).first()
    if source is not None and all(getattr(source, k) == v for k, v in values.items()):
        return []
    source = source or AudienceSource(segment=segment)
    for name, value in values.items():
        setattr(source, name, value)
    with_history_context(source, by=by, reason="Demo audience source")
    source.save()
    return [f"audience source for {segment.slug}"]


def load_demo_audience(*, segment, by, now: datetime) -> list[str]:
    """Import the demo CDP's snapshot of the segment, the same way a pull from its endpoint would."""
    from inputs.imports import audience_import
    from inputs.sources import map_records

    latest = (
        segment.imports.filter(status=AudienceImport.Status.IMPORTED)
        .order_by("-imported_at")
        .first()
    )
    if latest is not None and now - latest.imported_at < DEMO_AUDIENCE_MAX_AGE:
        return []
    payload = {"data": {"members": demo_members(segment.slug, now=now)}}
    records = map_records(payload, records_path=DEMO_RECORDS_PATH, field_mapping=DEMO_FIELD_MAPPING)
    result = audience_import(
        segment=segment,
        data=json.dumps({"recipients": records}).encode(),
        filename="demo CDP snapshot",
        format="json",
        imported_by=by,
        now=now,
    )
    if result.status != AudienceImport.Status.IMPORTED:
        raise ValueError(f"The demo audience did not import: {result.errors[:3]}")
    return [f"{result.row_count} demo recipients in {segment.slug}"]
