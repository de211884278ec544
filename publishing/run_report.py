"""The publishing columns of the run report: what each run's attempts delivered, and where."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from workflows.run_report import ColumnProvider

HEADERS = ("publish_status", "delivered_attempts", "delivered_recipients", "destinations")
# A run's publish status is its least settled attempt's.
STATUS_PRECEDENCE = (
    "unknown",
    "failed",
    "sending",
    "pending",
    "delivered",
    "rolled_back",
    "withdrawn",
)


def publish_values(run_ids: Sequence[int]) -> dict[int, tuple]:
    from publishing.models import PublishAttempt

    statuses: dict[int, set[str]] = defaultdict(set)
    delivered: dict[int, int] = defaultdict(int)
    sent: dict[int, int] = defaultdict(int)
    destinations: dict[int, set[str]] = defaultdict(set)
    rows = PublishAttempt.objects.filter(run_id__in=run_ids).values_list(
        "run_id", "status", "sent_count", "destination__name"
    )
    for run_id, status, sent_count, destination in rows:
        statuses[run_id].add(status)
        destinations[run_id].add(destination)
        if status == "delivered":
            delivered[run_id] += 1
            sent[run_id] += sent_count
    return {
        run_id: (
            next(s for s in STATUS_PRECEDENCE if s in seen),
            delivered[run_id],
            sent[run_id],
            "; ".join(sorted(destinations[run_id])),
        )
        for run_id, seen in statuses.items()
    }


provider = ColumnProvider(key="publishing", headers=HEADERS, values=publish_values, order=30)
