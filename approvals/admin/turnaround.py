"""The workflow page's review turnaround chart: median and 90th percentile hours per week.

Turnaround of a run: from the moment it started awaiting approval (its first approval item
landed in a queue) to the decision that ended its review (approve, request changes or reject;
an escalation keeps the clock running). Counted in the week of the decision; auto-approved
runs had no reviewer and are left out. One query per page view.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from approvals.models import ApprovalItem, Decision
from workflows import admin_extensions, chart_figures, charts
from workflows.admin_charts import chart_with_table, figure
from workflows.models import Workflow

WEEKS = 12


def turnaround_rows(
    pairs: Iterable[tuple[datetime, datetime]], *, tz=None
) -> list[tuple[date, float]]:
    """(local day of the decision, hours waited) from (awaiting since, decided at) pairs."""
    rows = []
    for awaiting_since, decided_at in pairs:
        if awaiting_since is None or decided_at is None:
            continue
        hours = max(0.0, (decided_at - awaiting_since).total_seconds() / 3600)
        rows.append((timezone.localtime(decided_at, tz).date(), hours))
    return rows


def decision_times(workflow_id: int, *, first: date) -> list[tuple[datetime, datetime]]:
    """(awaiting since, decided at) of the final decisions on the workflow's runs since ``first``."""
    awaiting_since = (
        ApprovalItem.objects.filter(run_id=OuterRef("item__run_id"))
        .order_by("created_at", "pk")
        .values("created_at")[:1]
    )
    return list(
        Decision.objects.filter(
            item__run__workflow_id=workflow_id,
            decided_at__gte=timezone.make_aware(datetime.combine(first, time.min)),
        )
        .exclude(decision=Decision.Kind.ESCALATE)
        .annotate(awaiting_since=Subquery(awaiting_since))
        .order_by()
        .values_list("awaiting_since", "decided_at")
    )


def turnaround(rows, *, today: date, weeks: int = WEEKS) -> list[chart_figures.PeriodQuantiles]:
    starts = chart_figures.periods(until=today, count=weeks, period="week")
    return chart_figures.period_quantiles(rows, periods=starts, period="week")


@admin.display(description="Review turnaround")
def review_turnaround_chart(obj):
    if obj is None or obj.pk is None:
        return "-"
    today = timezone.localdate()
    first = chart_figures.periods(until=today, count=WEEKS, period="week")[0]
    weeks = turnaround(turnaround_rows(decision_times(obj.pk, first=first)), today=today)
    measured = [w for w in weeks if w.count]
    svg = charts.line_chart(
        [
            charts.Series("Median", [(w.start, round(w.median, 2)) for w in measured]),
            charts.Series("90th percentile", [(w.start, round(w.p90, 2)) for w in measured]),
        ],
        title=f"Review turnaround in hours, per week, last {WEEKS} weeks",
        y_label="hours",
        y_min=0,
    )
    return chart_with_table(
        svg,
        summary="Review turnaround: the numbers",
        headers=["Week of", "Decisions", "Median hours", "90th percentile hours"],
        rows=[[w.start.isoformat(), w.count, figure(w.median), figure(w.p90)] for w in measured],
        note="From the moment a run started awaiting approval to the decision that ended its "
        "review (escalations keep the clock running), by the week of the decision.",
    )


admin_extensions.register_section(
    Workflow, title="Review turnaround", fields=(review_turnaround_chart,), order=65
)
