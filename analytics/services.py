"""A run's side of the weekly review: is last week's data complete, and the comparison it summarises."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from analytics import comparison, selectors
from analytics.models import AdComparison
from workflows.models import Run, with_history_context


def _as_of(run: Run):
    return run.as_of or timezone.localdate()


def run_check_analytics(*, run: Run) -> comparison.Freshness:
    """Which days of the run's last week each platform with data misses (nothing is stored)."""
    horizon = comparison.windows(_as_of(run)).horizon
    rows = selectors.current_rows(workflow_id=run.workflow_id, start=horizon.start, end=horizon.end)
    return comparison.freshness(rows, as_of=_as_of(run))


@transaction.atomic
def run_compare_ad_performance(*, run: Run) -> AdComparison:
    """Compare the run's last week with the four weeks before it and store the computed table with the run."""
    as_of = _as_of(run)
    horizon = comparison.windows(as_of).horizon
    threshold, minimum = selectors.review_settings(run.workflow)
    rows = selectors.current_rows(workflow_id=run.workflow_id, start=horizon.start, end=horizon.end)
    result = comparison.compare(
        rows, as_of=as_of, drop_threshold_pct=threshold, min_impressions=minimum
    )
    stored = AdComparison(
        run=run,
        as_of=as_of,
        drop_threshold_pct=threshold,
        min_impressions=minimum,
        result=result,
    )
    counts = result["counts"]
    with_history_context(
        stored,
        by=run.started_by,
        reason=f"Compared {counts['compared']} ads as of {as_of}: {counts['flagged']} flagged",
    )
    stored.save()
    return stored
