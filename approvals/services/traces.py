"""The trace's approval section."""

from __future__ import annotations

from typing import Any

from approvals.models import ApprovalItem, Decision
from workflows.models import Run, Trace, with_history_context

# --- The trace's approval section -----------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def approval_section(run: Run) -> dict[str, Any]:
    """The trace's `approval` section: the latest state on top, every item and decision below."""
    items = list(
        ApprovalItem.objects.filter(run=run)
        .select_related("team", "decision__reviewer", "decision__escalate_to")
        .order_by("created_at", "pk")
    )
    revisions = [r.run_id for r in run.revisions.order_by("created_at", "pk")]
    entries = []
    for item in items:
        decision = getattr(item, "decision", None)
        entries.append(
            {
                "item_id": item.pk,
                "team": item.team.slug if item.team else None,
                "status": item.status,
                "routed_by_rule": item.rule_name or None,
                "routing_reason": item.routing_reason,
                "created_at": _iso(item.created_at),
                "due_at": _iso(item.due_at),
                "closed_at": _iso(item.closed_at),
                "reviewer": decision.reviewer.get_username() if decision else None,
                "decision": decision.decision if decision else None,
                "decision_time": _iso(decision.decided_at) if decision else None,
                "note": decision.note if decision else "",
                "escalate_to": decision.escalate_to.slug
                if decision and decision.escalate_to
                else None,
            }
        )
    if not entries:
        return {}
    first, latest = entries[0], entries[-1]
    decided = [e for e in entries if e["decision"]]
    last_decision = decided[-1] if decided else None
    if latest["status"] == ApprovalItem.Status.OPEN:
        status = (
            "escalated"
            if last_decision and last_decision["decision"] == Decision.Kind.ESCALATE
            else "awaiting_approval"
        )
    else:
        status = latest["status"]
    return {
        "status": status,
        "team": latest["team"],
        "routed_by_rule": first["routed_by_rule"],
        "routing_reason": first["routing_reason"],
        "reviewer": last_decision["reviewer"] if last_decision else None,
        "decision": last_decision["decision"] if last_decision else None,
        "decision_time": last_decision["decision_time"] if last_decision else None,
        "note": last_decision["note"] if last_decision else "",
        "revision_runs": revisions,
        "items": entries,
    }


def _update_trace(run: Run, *, by, reason: str) -> None:
    trace = Trace.objects.select_for_update().get(run=run)
    document = trace.document
    document["status"] = Run.objects.values_list("status", flat=True).get(pk=run.pk)
    document["approval"] = approval_section(run)
    if document["status"] == Run.Status.REJECTED:
        document["publish"] = {"status": "blocked", "reason": "rejected in review"}
    trace.document = document
    with_history_context(trace, by=by, reason=reason)
    trace.save(update_fields=["document", "updated_at"])
