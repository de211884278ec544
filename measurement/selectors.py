"""Campaign metrics read from the daily rollups (never from the events): totals per runs and days."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce

from measurement.models import KIND_FIELDS, DailyRollup


@dataclass(frozen=True)
class Totals:
    """Unique recipients per run variant and kind, summed."""

    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    complained: int = 0
    converted: int = 0


_SUMS = {name: Coalesce(Sum(name), 0) for name in KIND_FIELDS}


def _rollups(*, since: date | None, until: date | None, **filters) -> QuerySet:
    rollups = DailyRollup.objects.filter(**filters)
    if since is not None:
        rollups = rollups.filter(day__gte=since)
    if until is not None:
        rollups = rollups.filter(day__lte=until)
    return rollups


def _run_ids(run_ids: Iterable[int] | QuerySet) -> list[int] | QuerySet:
    return run_ids if isinstance(run_ids, QuerySet) else list(run_ids)


def totals(*, run_ids, since: date | None = None, until: date | None = None) -> Totals:
    """People per kind over the runs (a list of ids or a ``values_list`` queryset) and days."""
    sums = _rollups(run_id__in=_run_ids(run_ids), since=since, until=until).aggregate(**_SUMS)
    return Totals(**sums)


def daily_totals(
    *, run_ids, since: date | None = None, until: date | None = None
) -> list[tuple[date, Totals]]:
    """People per kind and day (days with no events left out), oldest first."""
    rows = (
        _rollups(run_id__in=_run_ids(run_ids), since=since, until=until)
        .order_by()
        .values("day")
        .annotate(**_SUMS)
        .order_by("day")
    )
    return [(row.pop("day"), Totals(**row)) for row in rows]


def version_daily_totals(
    *, prompt_version_id: int, since: date | None = None, until: date | None = None
) -> list[tuple[date, Totals]]:
    """People per kind and day for every run of one prompt version, oldest first."""
    rows = (
        _rollups(prompt_version_id=prompt_version_id, since=since, until=until)
        .order_by()
        .values("day")
        .annotate(**_SUMS)
        .order_by("day")
    )
    return [(row.pop("day"), Totals(**row)) for row in rows]
