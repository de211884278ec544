"""The numbers behind the admin's charts, from plain rows. Pure: no Django, no ORM.

Queries gather rows (a day, a category, a count; or a day and a duration) in a constant
number of queries; these functions lay them out per period for ``workflows.charts``.

- ``periods(until=..., count=..., period="day"|"week")``: the last ``count`` periods, oldest first
  (a week starts on Monday).
- ``stacked_counts(rows, periods=..., period=..., categories=...)``: counts per category per period.
- ``quantile(values, q)``: linear interpolation between closest ranks (NumPy's default, Excel's
  PERCENTILE.INC).
- ``period_quantiles(rows, periods=..., period=...)``: per period, how many, the median and the
  90th percentile of the durations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

PERIODS = ("day", "week")


def period_of(day: date, period: str) -> date:
    """The first day of the period ``day`` falls in."""
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    raise ValueError(f"A period is one of {', '.join(PERIODS)}, not {period!r}.")


def periods(*, until: date, count: int, period: str) -> list[date]:
    """The ``count`` periods ending with the one holding ``until``, oldest first."""
    if count < 1:
        raise ValueError("Show at least one period.")
    last = period_of(until, period)
    step = timedelta(days=1 if period == "day" else 7)
    return [last - step * i for i in range(count - 1, -1, -1)]


def period_label(start: date, period: str) -> str:
    return start.isoformat() if period == "day" else f"week of {start.isoformat()}"


@dataclass(frozen=True)
class StackedCounts:
    periods: list[date]
    categories: list[str]
    counts: dict[str, list[int]]  # category -> one count per period

    def totals(self) -> list[int]:
        return [sum(self.counts[c][i] for c in self.categories) for i in range(len(self.periods))]


def stacked_counts(
    rows: Iterable[tuple[date, str, int]],
    *,
    periods: Sequence[date],
    period: str,
    categories: Sequence[str],
) -> StackedCounts:
    """Counts per category and period from ``(day, category, count)`` rows.

    Days outside ``periods`` are left out; a category not in ``categories`` is added after them
    (nothing counted is dropped from the chart).
    """
    index = {start: i for i, start in enumerate(periods)}
    order = list(categories)
    counts = {category: [0] * len(periods) for category in order}
    for day, category, count in rows:
        slot = index.get(period_of(day, period))
        if slot is None:
            continue
        if category not in counts:
            order.append(category)
            counts[category] = [0] * len(periods)
        counts[category][slot] += count
    return StackedCounts(periods=list(periods), categories=order, counts=counts)


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("No values to take a quantile of.")
    if not 0 <= q <= 1:
        raise ValueError("A quantile is between 0 and 1.")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class PeriodQuantiles:
    start: date
    count: int
    median: float | None
    p90: float | None


def period_quantiles(
    rows: Iterable[tuple[date, float]], *, periods: Sequence[date], period: str
) -> list[PeriodQuantiles]:
    """Per period: how many ``(day, value)`` rows fell in it, their median and 90th percentile
    (None when there were none)."""
    grouped: dict[date, list[float]] = {start: [] for start in periods}
    for day, value in rows:
        start = period_of(day, period)
        if start in grouped:
            grouped[start].append(value)
    return [
        PeriodQuantiles(
            start=start,
            count=len(values),
            median=quantile(values, 0.5) if values else None,
            p90=quantile(values, 0.9) if values else None,
        )
        for start, values in grouped.items()
    ]
