"""Data checks and audience planning for runs."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from inputs import datacheck
from inputs.models import DataCheck, InputRequirement, Recipient, RecipientAssignment
from workflows.models import (
    BrandRules,
    ClaimSet,
    LegalRestrictionSet,
    Run,
    RunVariant,
    with_history_context,
)

RECIPIENT_FIELDS = ("role", "plan")
ASSIGNMENT_BATCH = 2000
# Leaves room for the key in an assignment's reason ("Cohort <key> generation failed", 200 chars).
COHORT_KEY_MAX_LENGTH = 160
COHORT_KEY_SEPARATORS = ("|", "=")


def _age_hours(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else max(0.0, (now - moment).total_seconds() / 3600)


def cohort_key(attributes: dict[str, str]) -> str:
    """A readable, deterministic key per cohort, e.g. ``role=admin|usage_tier=high``.

    When the readable form is too long, or a value holds a separator (so two cohorts could
    read alike), it is cut and ends with ``|#`` and a hash of all the attributes: such a key
    never equals a plain one (every plain segment holds ``=``) and always fits.
    """
    readable = "|".join(f"{name}={value}" for name, value in attributes.items())
    ambiguous = any(
        sep in str(part)
        for item in attributes.items()
        for part in item
        for sep in COHORT_KEY_SEPARATORS
    )
    if len(readable) <= COHORT_KEY_MAX_LENGTH and not ambiguous:
        return readable
    material = json.dumps([[str(n), str(v)] for n, v in attributes.items()], ensure_ascii=False)
    suffix = "|#" + hashlib.sha256(material.encode()).hexdigest()[:16]
    return readable[: COHORT_KEY_MAX_LENGTH - len(suffix)] + suffix


@dataclass
class AudiencePartition:
    counts: datacheck.AudienceCounts
    cohorts: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> attributes
    cohort_members: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    stale: list[int] = field(default_factory=list)
    incomplete: list[int] = field(default_factory=list)  # missing a cohort attribute


def partition_audience(
    *, segment_id: int, cohort_attributes: list[str], usage_cutoff: datetime | None
) -> AudiencePartition:
    """Count the segment and split its opted-in recipients by cohort; opted-out ones are only counted."""
    recipients = Recipient.objects.current(segment_id)
    total = recipients.count()
    opted_in = recipients.filter(consent=Recipient.Consent.OPTED_IN)
    field_attrs = [a for a in cohort_attributes if a in RECIPIENT_FIELDS]
    partition = AudiencePartition(
        counts=datacheck.AudienceCounts(total=total, opted_out=0, stale_usage=0)
    )
    stale = 0
    in_count = 0
    rows = opted_in.values_list("pk", "usage_as_of", "attributes", *field_attrs).iterator(
        chunk_size=5000
    )
    for pk, usage_as_of, attributes, *field_values in rows:
        in_count += 1
        if usage_cutoff is not None and (usage_as_of is None or usage_as_of < usage_cutoff):
            stale += 1
            partition.stale.append(pk)
            continue
        values = dict(zip(field_attrs, field_values, strict=True))
        cohort = {}
        for name in cohort_attributes:
            value = values[name] if name in values else (attributes or {}).get(name)
            if value in (None, ""):
                break
            cohort[name] = str(value)
        else:
            key = cohort_key(cohort)
            partition.cohorts.setdefault(key, cohort)
            partition.cohort_members[key].append(pk)
            continue
        partition.incomplete.append(pk)
    partition.counts = datacheck.AudienceCounts(
        total=total, opted_out=total - in_count, stale_usage=stale
    )
    return partition


def _requirements(run: Run) -> list[datacheck.Requirement]:
    return [
        datacheck.Requirement(
            input_name=r.input_name,
            source=r.source,
            freshness=r.freshness,
            on_failure=r.on_failure,
            max_age_hours=r.max_age_hours,
        )
        for r in InputRequirement.objects.filter(workflow_id=run.workflow_id)
    ]


def _observations(run: Run, now: datetime) -> dict[str, datacheck.Observation]:
    def versioned(in_force, latest):
        return datacheck.Observation(
            version=in_force.label if in_force else None,
            latest_version=latest.label if latest else None,
        )

    segment = run.brief.audience_segment
    brand = run.brand_rules
    return {
        "audience_segment": datacheck.Observation(age_hours=_age_hours(segment.refreshed_at, now)),
        "approved_claims": versioned(run.claim_set, ClaimSet.objects.latest_approved()),
        "legal_restrictions": versioned(
            run.legal_restrictions, LegalRestrictionSet.objects.latest_approved()
        ),
        "brand_rules": datacheck.Observation(
            version=brand.label if brand else None,
            latest_version=getattr(BrandRules.objects.latest_approved(), "label", None),
            age_hours=_age_hours(brand.reviewed_at, now) if brand else None,
        ),
    }


def run_check_data(
    *, run: Run, now: datetime | None = None
) -> tuple[datacheck.DataCheckResult, list[RunVariant]]:
    """Check the run's inputs against its workflow's contract; when it may go on, plan its variants.

    Stores the DataCheck either way. Returns the variants to generate (none when stopped or
    when the segment has no recipient data to plan from).
    """
    now = now or timezone.now()
    requirements = _requirements(run)
    by_name = {r.input_name: r for r in requirements}
    usage = by_name.get("product_usage_summary")
    usage_cutoff = (
        now - timedelta(hours=usage.max_age_hours) if usage and usage.max_age_hours else None
    )
    audience_required = "audience_segment" in by_name or usage is not None
    partition = None
    if audience_required:
        partition = partition_audience(
            segment_id=run.brief.audience_segment_id,
            cohort_attributes=list(run.workflow.cohort_attributes or []),
            usage_cutoff=usage_cutoff,
        )
    result = datacheck.evaluate(
        workflow=run.workflow.slug,
        run_id=run.run_id,
        requirements=requirements,
        observations=_observations(run, now),
        audience=partition.counts if partition else None,
    )
    variants: list[RunVariant] = []
    with transaction.atomic():
        if result.decision != datacheck.STOP_BEFORE_GENERATION and partition is not None:
            variants = _plan_variants(run, partition, stale_treatment=result.stale_usage_treatment)
            result.document["audience"].update(
                personalized=sum(v.recipient_count for v in variants if not v.is_generic),
                generic=next(v.recipient_count for v in variants if v.is_generic),
                cohorts=sum(1 for v in variants if not v.is_generic),
            )
        check = DataCheck(
            run=run,
            decision=result.decision,
            summary=result.summary,
            route_to_review=result.route_to_review,
            document=result.document,
            checked_at=now,
        )
        with_history_context(check, by=run.started_by, reason=f"Data check: {result.decision}")
        check.save()
    return result, variants


def _new_variant(run: Run, **fields) -> RunVariant:
    variant = RunVariant(run=run, **fields)
    with_history_context(
        variant, by=run.started_by, reason=f"Variant {variant.key} planned by the data check"
    )
    variant.save()
    return variant


def _plan_variants(
    run: Run, partition: AudiencePartition, *, stale_treatment: str
) -> list[RunVariant]:
    generic_members = list(partition.incomplete)
    if stale_treatment == "generic":
        generic_members += partition.stale
    generic = _new_variant(
        run, key=RunVariant.GENERIC_KEY, is_generic=True, recipient_count=len(generic_members)
    )
    variants = [generic]
    assignments: list[RecipientAssignment] = []
    Treatment = RecipientAssignment.Treatment
    for key in sorted(partition.cohorts):
        members = partition.cohort_members[key]
        variant = _new_variant(
            run, key=key, attributes=partition.cohorts[key], recipient_count=len(members)
        )
        variants.append(variant)
        assignments += [
            RecipientAssignment(
                run_id=run.pk,
                recipient_id=pk,
                variant_id=variant.pk,
                treatment=Treatment.PERSONALIZED,
            )
            for pk in members
        ]
    assignments += [
        RecipientAssignment(
            run_id=run.pk,
            recipient_id=pk,
            variant_id=generic.pk,
            treatment=Treatment.GENERIC,
            reason="Missing a cohort attribute",
        )
        for pk in partition.incomplete
    ]
    if stale_treatment == "generic":
        assignments += [
            RecipientAssignment(
                run_id=run.pk,
                recipient_id=pk,
                variant_id=generic.pk,
                treatment=Treatment.GENERIC,
                reason="Stale product usage data",
            )
            for pk in partition.stale
        ]
    elif stale_treatment == "excluded":
        assignments += [
            RecipientAssignment(
                run_id=run.pk,
                recipient_id=pk,
                treatment=Treatment.EXCLUDED,
                reason="Stale product usage data",
            )
            for pk in partition.stale
        ]
    RecipientAssignment.objects.bulk_create(assignments, batch_size=ASSIGNMENT_BATCH)
    return variants


def assignment_rows(run: Run):
    """Rows for the assignment export: one per recipient considered by the run."""
    yield ("customer_id", "email", "treatment", "variant", "reason")
    rows = (
        RecipientAssignment.objects.filter(run=run)
        .order_by("recipient__customer_id")
        .values_list(
            "recipient__customer_id", "recipient__email", "treatment", "variant__key", "reason"
        )
        .iterator(chunk_size=5000)
    )
    for customer_id, email, treatment, variant_key, reason in rows:
        yield (customer_id, email, treatment, variant_key or "", reason)


def data_check_for_review(*, run: Run) -> dict | None:
    """The run's data check as a reviewer reads it: summary, decision, one row per required input."""
    check = DataCheck.objects.filter(run=run).first()
    if check is None:
        return None
    rows = [
        (name, entry.get("source", ""), datacheck.finding_text(entry), entry.get("status", ""))
        for name, entry in (check.document.get("required_inputs") or {}).items()
    ]
    return {
        "summary": check.summary,
        "decision": check.get_decision_display(),
        "route_to_review": check.route_to_review,
        "rows": rows,
        "flags": check.document.get("flags") or [],
    }
