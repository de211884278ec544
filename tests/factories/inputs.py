"""Data contracts and audiences: input requirements, and recipients imported the product's way."""

from __future__ import annotations

import json
from datetime import timedelta

import factory
from django.utils import timezone

from inputs.imports import audience_import
from inputs.models import AudienceImport, InputRequirement
from tests.factories.base import AuditedFactory
from tests.factories.workflows import WorkflowFactory

Input, Freshness, OnFailure = (
    InputRequirement.Input,
    InputRequirement.Freshness,
    InputRequirement.OnFailure,
)

# (input, source, freshness, max age in hours, on failure)
REGISTRY_CONTRACT = [
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
        "brand_docs",
        Freshness.REVIEWED_WITHIN,
        90 * 24,
        OnFailure.WARN_AND_REVIEW,
    ),
]
AUDIENCE_CONTRACT = [
    (Input.AUDIENCE_SEGMENT, "cdp", Freshness.UPDATED_WITHIN, 24, OnFailure.STOP),
    (
        Input.PRODUCT_USAGE_SUMMARY,
        "warehouse",
        Freshness.UPDATED_WITHIN,
        6,
        OnFailure.GENERIC_AND_FLAG,
    ),
]


class InputRequirementFactory(AuditedFactory):
    class Meta:
        model = InputRequirement

    workflow = factory.SubFactory(WorkflowFactory)
    input_name = Input.APPROVED_CLAIMS
    source = "registry"
    freshness = Freshness.LATEST_APPROVED
    on_failure = OnFailure.STOP


def data_contract(*, workflow, requirements, by=None) -> list[InputRequirement]:
    return [
        InputRequirementFactory(
            workflow=workflow,
            input_name=name,
            source=source,
            freshness=freshness,
            max_age_hours=max_age_hours,
            on_failure=on_failure,
            history_user=by,
        )
        for name, source, freshness, max_age_hours, on_failure in requirements
    ]


# The test audience: 60 recipients, 3 roles x 2 usage tiers (6 cohorts); 5 opted out, 7 with usage
# data older than the contract's 6 hours, so 55 are eligible: 48 personalized, 7 generic.
AUDIENCE_ROLES = ("engineering manager", "marketing lead", "finance admin")
AUDIENCE_TIERS = ("high", "low")
AUDIENCE_SIZE, AUDIENCE_OPTED_OUT, AUDIENCE_STALE = 60, 5, 7


def audience_records(
    *, now, size=AUDIENCE_SIZE, opted_out=AUDIENCE_OPTED_OUT, stale=AUDIENCE_STALE
):
    records = []
    for i in range(size):
        kind = "opted_out" if i < opted_out else "stale" if i < opted_out + stale else "fresh"
        usage_age = timedelta(hours=20 if kind == "stale" else 2)
        records.append(
            {
                "customer_id": f"cust_{i:04d}",
                "email": f"reader{i:04d}@example.com",
                "role": AUDIENCE_ROLES[i % len(AUDIENCE_ROLES)],
                "plan": "Team trial",
                "consent": "opted_out" if kind == "opted_out" else "opted_in",
                "usage_summary": "Built 3 boards this week.",
                "usage_as_of": (now - usage_age).isoformat(),
                "usage_tier": AUDIENCE_TIERS[(i // len(AUDIENCE_ROLES)) % len(AUDIENCE_TIERS)],
            }
        )
    return records


def audience(*, segment, by=None, now=None, **sizes) -> AudienceImport:
    """Import the test audience into ``segment`` through the product's audience import."""
    now = (now or timezone.now()).replace(microsecond=0)
    record = audience_import(
        segment=segment,
        data=json.dumps({"recipients": audience_records(now=now, **sizes)}).encode(),
        filename="test audience",
        format="json",
        imported_by=by,
        now=now,
    )
    if record.status != AudienceImport.Status.IMPORTED:
        raise ValueError(f"The test audience did not import: {record.errors[:3]}")
    return record
