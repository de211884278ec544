"""Read-only questions about inputs, for other apps (which never import inputs' models)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count

from inputs.models import AudienceImport, DataCheck, Recipient, RecipientAssignment


def data_check_routes_to_review(*, run_id: int) -> bool:
    """Whether the data check of the run asked for a person's review (False when no check ran)."""
    return DataCheck.objects.filter(run_id=run_id, route_to_review=True).exists()


def run_recipients_by_variant(*, run_id: int) -> dict[int, list[int]]:
    """The run's assigned recipients (excluded ones left out): variant id -> recipient ids, in order."""
    grouped: dict[int, list[int]] = {}
    rows = (
        RecipientAssignment.objects.filter(run_id=run_id, variant__isnull=False)
        .order_by("variant_id", "recipient_id")
        .values_list("variant_id", "recipient_id")
    )
    for variant_id, recipient_id in rows:
        grouped.setdefault(variant_id, []).append(recipient_id)
    return grouped


def run_variant_sizes(*, run_id: int) -> dict[int, int]:
    """How many recipients the run assigned each variant (excluded ones left out): variant id -> count."""
    return dict(
        RecipientAssignment.objects.filter(run_id=run_id, variant__isnull=False)
        .values_list("variant_id")
        .annotate(recipients=Count("pk"))
        .order_by()
    )


def run_variant_recipient_ids(*, run_id: int, variant_id: int, batch: int) -> Iterator[list[int]]:
    """The recipients the run assigned ``variant_id``, in id order, ``batch`` at a time.

    Each batch is its own query starting after the last id of the one before, so memory holds
    one batch whatever the audience's size and no cursor stays open while the caller writes.
    """
    after = 0
    while True:
        ids = list(
            RecipientAssignment.objects.filter(
                run_id=run_id, variant_id=variant_id, recipient_id__gt=after
            )
            .order_by("recipient_id")
            .values_list("recipient_id", flat=True)[:batch]
        )
        if ids:
            yield ids
        if len(ids) < batch:
            return
        after = ids[-1]


def recipient_customer_ids(*, recipient_ids: list[int]) -> dict[int, str]:
    """Recipient id -> customer id (the key a rollout's audience split hashes)."""
    return dict(Recipient.objects.filter(pk__in=recipient_ids).values_list("pk", "customer_id"))


@dataclass(frozen=True)
class Consent:
    """A recipient as the segment's newest snapshot has them, at the moment of sending."""

    recipient_id: int
    customer_id: str
    email: str  # the newest snapshot's address ("" when they left the segment)
    status: str  # "opted_in", "opted_out", or "left_segment"


def consent_now(*, segment_id: int, recipient_ids: list[int]) -> list[Consent]:
    """Consent re-checked against the segment's newest snapshot, matched by customer id."""
    assigned = dict(Recipient.objects.filter(pk__in=recipient_ids).values_list("pk", "customer_id"))
    latest = AudienceImport.objects.current_for(segment_id)
    current = {}
    if latest is not None:
        current = {
            row[0]: row[1:]
            for row in Recipient.objects.filter(
                audience_import=latest, customer_id__in=set(assigned.values())
            ).values_list("customer_id", "email", "consent")
        }
    answers = []
    for recipient_id in recipient_ids:
        customer_id = assigned.get(recipient_id, "")
        email, consent = current.get(customer_id, ("", "left_segment"))
        answers.append(Consent(recipient_id, customer_id, email, consent))
    return answers
