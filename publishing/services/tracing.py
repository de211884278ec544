"""The trace's ``publish`` section: each destination's status, counts, keys and ids, and every press."""

from __future__ import annotations

from datetime import timezone as dt_timezone
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from publishing.models import (
    Destination,
    PublishAttempt,
)
from workflows.models import Run, Trace, with_history_context

# --- The trace's publish section ------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _destination_status(statuses: set[str]) -> str:
    S = PublishAttempt.Status
    for status in (S.UNKNOWN, S.SENDING, S.PENDING, S.FAILED):
        if status in statuses:
            return status
    if statuses == {S.ROLLED_BACK}:
        return S.ROLLED_BACK
    if statuses <= {S.WITHDRAWN}:
        return S.WITHDRAWN
    return S.DELIVERED if S.DELIVERED in statuses else "partly_rolled_back"


# A platform answering one id per recipient (Resend) would fill the trace: it keeps the first few.
IDS_SHOWN = 10


def _brief_ids(ids: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {"count": len(value), "first": value[:IDS_SHOWN]}
        if isinstance(value, list) and len(value) > IDS_SHOWN
        else value
        for name, value in ids.items()
    }


def _scheduled_for(attempts: list[PublishAttempt]) -> str | None:
    """When the platform sends the delivered attempts, if that is still ahead (else None)."""
    now = timezone.now()
    times = set()
    for attempt in attempts:
        if attempt.status != PublishAttempt.Status.DELIVERED:
            continue
        ids = attempt.external_ids or {}
        # SendGrid's send_at (with offset); WordPress's date_gmt (UTC, without one).
        when = parse_datetime(str(ids.get("send_at") or ids.get("date_gmt") or ""))
        if when is not None and timezone.is_naive(when):
            when = timezone.make_aware(when, dt_timezone.utc)
        if when is None or when <= now:
            return None
        times.add(when)
    return _iso(min(times)) if times else None


def publish_section(run: Run, *, refusal: str = "") -> dict[str, Any]:
    """The trace's ``publish`` section: each destination with its status, ids, keys and counts."""
    destinations = list(
        Destination.objects.filter(workflow_id=run.workflow_id).order_by("name", "pk")
    )
    attempts = list(
        PublishAttempt.objects.filter(run=run)
        .select_related("request__requested_by")
        .defer("recipient_ids")  # the section counts recipients; their ids would only fill memory
        .order_by("destination_id", "chunk_index")
    )
    requests = list(
        run.publish_requests.select_related("requested_by").order_by("requested_at", "pk")
    )
    by_destination: dict[int, list[PublishAttempt]] = {}
    for attempt in attempts:
        by_destination.setdefault(attempt.destination_id, []).append(attempt)
    entries = []
    for destination in destinations:
        mine = by_destination.get(destination.pk, [])
        if not mine and not destination.enabled:
            continue
        first = mine[0] if mine else None
        scheduled_for = None
        if mine:
            status = _destination_status({a.status for a in mine})
            if status == PublishAttempt.Status.DELIVERED:
                scheduled_for = _scheduled_for(mine)
                status = "scheduled" if scheduled_for else status
        elif destination.requires_publish_gate:
            status = "waiting_for_publish_gate"
        else:
            status = "not_published"
        entries.append(
            {
                "destination_id": destination.pk,
                "name": destination.name,
                "kind": destination.kind,
                "target": destination.target,
                "requires_publish_gate": destination.requires_publish_gate,
                "schedule": _iso(destination.scheduled_for) or "now",
                "status": status,
                # Accepted by the platform; "scheduled" until it sends them at scheduled_for.
                **({"scheduled_for": scheduled_for} if scheduled_for else {}),
                "delivered": sum(
                    a.sent_count for a in mine if a.status == PublishAttempt.Status.DELIVERED
                ),
                "recipients": {
                    "sent": sum(a.sent_count for a in mine),
                    "dropped": sum(a.dropped_count for a in mine),
                    "failed": sum(a.failed_count for a in mine),
                },
                "published_by": first.publisher.get_username() if first else None,
                "published_at": _iso(first.request.requested_at) if first else None,
                "idempotency_keys": [a.idempotency_key for a in mine],
                "external_ids": [_brief_ids(a.external_ids) for a in mine if a.external_ids],
                "attempts": [
                    {
                        "chunk": a.chunk_index,
                        "status": a.status,
                        "idempotency_key": a.idempotency_key,
                        "external_ids": _brief_ids(a.external_ids),
                        "sent": a.sent_count,
                        "dropped": a.dropped_count,
                        "failed": a.failed_count,
                        "tries": a.tries,
                        "error": a.error,
                        "detail": a.detail,
                        "finished_at": _iso(a.finished_at),
                        "rolled_back_at": _iso(a.rolled_back_at),
                    }
                    for a in mine
                ],
            }
        )
    press = [
        {
            "action": r.action,
            "by": r.requested_by.get_username(),
            "at": _iso(r.requested_at),
            "reason": r.reason,
            "gated": r.gated,
            "destinations": r.destinations,
            **({"outcome": r.outcome} if r.outcome else {}),
        }
        for r in requests
    ]
    if not entries and not press and not refusal:
        return {}
    statuses = {e["status"] for e in entries}
    if refusal and not attempts:
        overall = "blocked"
    elif not attempts:
        overall = (
            "waiting_for_publish_gate"
            if "waiting_for_publish_gate" in statuses
            else "not_published"
        )
    elif len(statuses) == 1:
        overall = statuses.pop()
    elif statuses <= {PublishAttempt.Status.DELIVERED, "scheduled"}:
        overall = PublishAttempt.Status.DELIVERED  # every platform took it; some send later
    else:
        overall = "partial"
    section: dict[str, Any] = {"status": overall}
    if refusal:
        section["reason"] = refusal
    publishes = [p for p in press if p["action"] == "publish"]
    if publishes:
        section["published_by"] = publishes[-1]["by"]
        section["published_at"] = publishes[-1]["at"]
    section["destinations"] = entries
    section["requests"] = press
    return section


def update_publish_trace(run: Run, *, by, reason: str, refusal: str = "") -> None:
    trace = Trace.objects.select_for_update().filter(run=run).first()
    if trace is None:
        return
    document = trace.document
    if refusal and (document.get("publish") or {}).get("status") == "blocked":
        stored = Run.objects.values_list("status", flat=True).get(pk=run.pk)
        if stored == Run.Status.REJECTED:
            return  # a rejected run already says why it is blocked (approvals wrote it)
    document["publish"] = publish_section(run, refusal=refusal)
    trace.document = document
    with_history_context(trace, by=by, reason=reason)
    trace.save(update_fields=["document", "updated_at"])
