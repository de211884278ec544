"""Read-only questions about approvals, for the admin and for other apps."""

from __future__ import annotations

from django.db.models import Count, Q
from django.utils import timezone

from approvals.models import ApprovalItem, Decision


def open_item_counts(*, user) -> list[dict]:
    """Per team of the user (every team for a superuser): open items and how many are overdue, in one query."""
    rows = (
        ApprovalItem.objects.open()
        .for_user(user)
        .values("team_id", "team__name")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lt=timezone.now())))
        .order_by("team__name")
    )
    return [
        {
            "team_id": r["team_id"],
            "team": r["team__name"],
            "open": r["open"],
            "overdue": r["overdue"],
        }
        for r in rows
    ]


def review_acceptance_by_prompt_version(version_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(approved, decided) human decisions on runs of each prompt version.

    Counts approve, request changes and reject; escalations hand the item on and
    auto-approvals are no person's decision, so neither counts. Every id asked for is in the answer.
    """
    counts = {version_id: (0, 0) for version_id in version_ids}
    rows = (
        Decision.objects.filter(item__run__prompt_version_id__in=version_ids)
        .exclude(decision=Decision.Kind.ESCALATE)
        .values("item__run__prompt_version_id")
        .annotate(
            decided=Count("pk"), approved=Count("pk", filter=Q(decision=Decision.Kind.APPROVE))
        )
    )
    for row in rows:
        counts[row["item__run__prompt_version_id"]] = (row["approved"], row["decided"])
    return counts
