"""``run_unpublish``: take back what each platform allows, and say plainly what it cannot."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from publishing import registry
from publishing.models import (
    PublishAttempt,
    PublishRequest,
)
from publishing.services.common import CHECK_THE_PLATFORM, PUBLISH_PERMISSION, PublishRefused
from publishing.services.tracing import update_publish_trace
from workflows.lifecycle import TransitionRefused
from workflows.models import Run, with_history_context

# --- Unpublish ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TakenBack:
    destination: str
    taken_back: list[str]
    not_taken_back: list[str]


def run_unpublish(*, run: Run, user, reason: str) -> list[TakenBack]:
    """Take back what each platform allows; say plainly what it cannot. Records who and why."""
    reason = (reason or "").strip()
    if not reason:
        raise PublishRefused("Say why the run is unpublished.")
    if user is None or not user.is_active or not user.has_perm(PUBLISH_PERMISSION):
        raise PublishRefused("Your role does not unpublish runs: it needs the publish permission.")
    attempts = list(
        PublishAttempt.objects.filter(run=run)
        .select_related("destination", "request__requested_by")
        .order_by("destination__name", "destination_id", "chunk_index")
    )
    if not attempts:
        raise PublishRefused(f"{run.run_id} was never published: there is nothing to take back.")
    results: dict[str, TakenBack] = {}
    for attempt in attempts:
        entry = results.setdefault(
            attempt.destination.name, TakenBack(attempt.destination.name, [], [])
        )
        label = f"#{attempt.chunk_index}"
        if attempt.status in (PublishAttempt.Status.PENDING, PublishAttempt.Status.FAILED):
            try:
                attempt.mark_withdrawn(by=user, reason=f"Unpublished by {user}: {reason}")
                entry.taken_back.append(f"{label}: withdrawn before sending.")
            except TransitionRefused:
                entry.not_taken_back.append(
                    f"{label}: it started sending meanwhile; unpublish again."
                )
            continue
        if attempt.status == PublishAttempt.Status.DELIVERED:
            outcome = registry.adapter_for(attempt.destination.kind).rollback(attempt)
            if outcome.taken_back:
                attempt.mark_rolled_back(by=user, reason=f"Unpublished by {user}: {reason}")
                entry.taken_back.append(f"{label}: {outcome.explanation}")
            else:
                entry.not_taken_back.append(f"{label}: {outcome.explanation}")
            continue
        if attempt.status in (PublishAttempt.Status.SENDING, PublishAttempt.Status.UNKNOWN):
            entry.not_taken_back.append(
                f"{label}: it is {attempt.get_status_display().lower()}; {CHECK_THE_PLATFORM}."
            )
    outcome = [
        {
            "destination": r.destination,
            "taken_back": r.taken_back,
            "not_taken_back": r.not_taken_back,
        }
        for r in results.values()
    ]
    with transaction.atomic():
        request = PublishRequest(
            run=run,
            action=PublishRequest.Action.UNPUBLISH,
            requested_by=user,
            reason=reason,
            destinations=list(results),
            outcome=outcome,
        )
        with_history_context(request, by=user, reason=f"Unpublish: {reason}")
        request.save()
        update_publish_trace(run, by=user, reason=f"Unpublished by {user}: {reason}")
    return list(results.values())
