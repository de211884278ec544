"""Reading a workflow's current daily ad rows and its review settings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from analytics import comparison
from analytics.models import AdDailyRow, PerformanceReviewSettings
from workflows.models import Workflow


def current_rows(*, workflow_id: int, start: date, end: date) -> list[comparison.DailyRow]:
    """The current row (the newest import's) of every date, platform and ad from ``start`` to ``end``."""
    return [
        row.as_daily_row()
        for row in AdDailyRow.objects.current(workflow_id)
        .filter(date__range=(start, end))
        .order_by("date", "platform", "ad_id")
    ]


def review_settings(workflow: Workflow) -> tuple[Decimal, int]:
    """(drop threshold in percent, minimum of last-week impressions): the workflow's, else the defaults."""
    found = PerformanceReviewSettings.objects.filter(workflow=workflow).first()
    if found is None:
        return comparison.DEFAULT_DROP_THRESHOLD_PCT, comparison.DEFAULT_MIN_IMPRESSIONS
    return found.drop_threshold_pct, found.min_impressions
