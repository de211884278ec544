"""The workflow page's charts: runs per day by outcome (last 30 days), risk mix per week.

Each chart's rows come from one grouped query; ``workflows.chart_figures`` lays them out and
``workflows.charts`` draws them. Registered as a section of the workflow page.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.contrib import admin
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from workflows import admin_extensions, chart_figures, charts
from workflows.admin_charts import chart_with_table
from workflows.models import Run, Workflow
from workflows.vocabulary import RiskLevel

RUN_DAYS = 30
RISK_WEEKS = 12

# Outcomes in the order a run moves through them; colours say good / waiting / bad.
OUTCOME_COLOURS = {
    Run.Status.APPROVED: "#009E73",
    Run.Status.GENERATED: "#56B4E9",
    Run.Status.AWAITING_APPROVAL: "#E69F00",
    Run.Status.CHANGES_REQUESTED: "#CC79A7",
    Run.Status.REJECTED: "#D55E00",
    Run.Status.FAILED: "#000000",
    Run.Status.STOPPED: "#999999",
    Run.Status.QUEUED: "#0072B2",
    Run.Status.GENERATING: "#0072B2",
}
RISK_COLOURS = {"low": "#009E73", "medium": "#E69F00", "high": "#D55E00"}


def _since(first: date):
    return timezone.make_aware(datetime.combine(first, time.min))


def run_rows(
    workflow_id: int, *, first: date, field: str = "status"
) -> list[tuple[date, str, int]]:
    """(day, value of ``field``, runs) of the workflow's runs created since ``first``: one query."""
    rows = (
        Run.objects.filter(workflow_id=workflow_id, created_at__gte=_since(first))
        .annotate(day=TruncDate("created_at"))
        .values_list("day", field)
        .annotate(runs=Count("pk"))
        .order_by()
    )
    return [(day, value, runs) for day, value, runs in rows]


def runs_by_outcome(rows, *, today: date, days: int = RUN_DAYS) -> chart_figures.StackedCounts:
    """Runs per day by their status, last ``days`` days; statuses nobody reached are left out."""
    starts = chart_figures.periods(until=today, count=days, period="day")
    counted = chart_figures.stacked_counts(
        rows, periods=starts, period="day", categories=list(OUTCOME_COLOURS)
    )
    kept = [c for c in counted.categories if any(counted.counts[c])]
    return chart_figures.StackedCounts(counted.periods, kept, {c: counted.counts[c] for c in kept})


def risk_mix(rows, *, today: date, weeks: int = RISK_WEEKS) -> chart_figures.StackedCounts:
    """Evaluated runs per week by risk level (every level shown, in order)."""
    starts = chart_figures.periods(until=today, count=weeks, period="week")
    evaluated = [(day, level, n) for day, level, n in rows if level]
    return chart_figures.stacked_counts(
        evaluated, periods=starts, period="week", categories=RiskLevel.values
    )


def _status_label(value: str) -> str:
    try:
        return Run.Status(value).label
    except ValueError:
        return value


def _draw(counted: chart_figures.StackedCounts, *, title: str, period: str, label, colours):
    categories = [chart_figures.period_label(start, period) for start in counted.periods]
    svg = charts.bar_chart(
        categories,
        [charts.Stack(label(c), counted.counts[c], colours.get(c, "")) for c in counted.categories],
        title=title,
        y_label="runs",
    )
    headers = ["Period", *(label(c) for c in counted.categories), "Total"]
    rows = [
        [category, *(counted.counts[c][i] for c in counted.categories), total]
        for i, (category, total) in enumerate(zip(categories, counted.totals(), strict=True))
        if total
    ]
    return chart_with_table(svg, summary=f"{title}: the numbers", headers=headers, rows=rows)


@admin.display(description="Runs per day by outcome")
def runs_by_outcome_chart(obj):
    if obj is None or obj.pk is None:
        return "-"
    today = timezone.localdate()
    first = today - timedelta(days=RUN_DAYS - 1)
    counted = runs_by_outcome(run_rows(obj.pk, first=first), today=today)
    return _draw(
        counted,
        title=f"Runs per day by outcome, last {RUN_DAYS} days",
        period="day",
        label=_status_label,
        colours=OUTCOME_COLOURS,
    )


@admin.display(description="Risk mix")
def risk_mix_chart(obj):
    if obj is None or obj.pk is None:
        return "-"
    today = timezone.localdate()
    first = chart_figures.periods(until=today, count=RISK_WEEKS, period="week")[0]
    counted = risk_mix(run_rows(obj.pk, first=first, field="risk_level"), today=today)
    return _draw(
        counted,
        title=f"Risk mix of evaluated runs per week, last {RISK_WEEKS} weeks",
        period="week",
        label=lambda level: RiskLevel(level).label if RiskLevel.of(level) else level,
        colours=RISK_COLOURS,
    )


admin_extensions.register_section(
    Workflow,
    title="Runs",
    fields=(runs_by_outcome_chart, risk_mix_chart),
    order=60,
    description="Runs by the day they started, in the site's time zone; each run counted in its current status.",
)
