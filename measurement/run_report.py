"""The campaign columns of the run report: people delivered, clicked, unsubscribed, converted."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Sum

from workflows.run_report import ColumnProvider

HEADERS = ("delivered", "clicked", "unsubscribed", "converted")


def campaign_values(run_ids: Sequence[int]) -> dict[int, tuple]:
    """One query per chunk of runs, read from the daily rollups; runs without events are left empty."""
    from measurement.models import DailyRollup

    rows = (
        DailyRollup.objects.filter(run_id__in=run_ids)
        .order_by()
        .values("run_id")
        .annotate(**{name: Sum(name) for name in HEADERS})
    )
    return {row["run_id"]: tuple(row[name] for name in HEADERS) for row in rows}


provider = ColumnProvider(key="measurement", headers=HEADERS, values=campaign_values, order=50)
