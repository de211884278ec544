"""The kernel's review source (``workflows.reviews``): each run's latest final decision."""

from __future__ import annotations

from collections.abc import Sequence

from workflows.reviews import Review


def run_reviews(run_ids: Sequence[int]) -> dict[int, Review]:
    """The latest decision that ended each run's review (escalations hand the item on, so they
    do not count), in one query."""
    from approvals.models import Decision

    rows = (
        Decision.objects.filter(item__run_id__in=list(run_ids))
        .exclude(decision=Decision.Kind.ESCALATE)
        .order_by("item__run_id", "decided_at", "pk")
        .values_list(
            "item__run_id",
            "decision",
            "reviewer__username",
            "decided_at",
            "note",
            "item__team__slug",
        )
    )
    return {
        run_id: Review(
            decision=decision,
            reviewer=reviewer or "",
            decided_at=decided_at,
            note=note,
            team=team or "",
        )
        for run_id, decision, reviewer, decided_at, note, team in rows
    }
