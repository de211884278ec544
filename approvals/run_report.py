"""The review columns of the run report: the latest decision on each run."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import timezone

from workflows.run_report import ColumnProvider

HEADERS = ("review_outcome", "reviewer", "decided_at", "review_team")


def review_values(run_ids: Sequence[int]) -> dict[int, tuple]:
    from approvals.models import Decision

    latest: dict[int, tuple] = {}
    rows = (
        Decision.objects.filter(item__run_id__in=run_ids)
        .order_by("item__run_id", "decided_at", "pk")
        .values_list(
            "item__run_id", "decision", "reviewer__username", "decided_at", "item__team__slug"
        )
    )
    for run_id, decision, reviewer, decided_at, team in rows:
        decided = timezone.localtime(decided_at).replace(tzinfo=None) if decided_at else None
        latest[run_id] = (decision, reviewer or "", decided, team or "")
    return latest


provider = ColumnProvider(key="approvals", headers=HEADERS, values=review_values, order=20)
