"""Last week's click-through rate of each ad against the four weeks before it. Pure: no Django, no ORM.

The rules (docs/weekly-review.md):

- Windows, the run date excluded: last week is the 7 days before the run date; the prior weeks
  are the 28 days before last week. Rows outside the 35 days are not read.
- An ad is its platform and ad id. Its name (and campaign) is the one on its newest row.
- CTR is pooled over a window: Σclicks / Σimpressions, never a mean of daily CTRs.
- change = ctr_last_week / ctr_prior_4_weeks − 1.
- An ad under the minimum of last-week impressions (default 1,000; an ad with none at all) is
  listed as too small to judge and never flagged. Otherwise an ad without impressions in the
  prior weeks is listed as new. Otherwise it is compared, and flagged when its CTR dropped by
  more than the threshold (default 15 %): change < −threshold. A drop of exactly the threshold
  is not flagged. A prior CTR of 0 leaves the change undefined (null), never a drop.
- Decisions use exact fractions; only the reported numbers are rounded, half away from zero:
  CTRs in percent to 2 decimals (1.234 % -> 1.23), changes in percent to 1 decimal (-23.45 -> -23.5),
  spend to 2 decimals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

LAST_WEEK_DAYS = 7
PRIOR_WEEKS = 4
PRIOR_DAYS = PRIOR_WEEKS * 7
DEFAULT_DROP_THRESHOLD_PCT = Decimal("15")
DEFAULT_MIN_IMPRESSIONS = 1000
CTR_DECIMALS = 2
CHANGE_DECIMALS = 1
SPEND_DECIMALS = 2


@dataclass(frozen=True)
class DailyRow:
    """One ad's delivery on one day, as imported."""

    date: date
    platform: str
    campaign_id: str
    ad_id: str
    ad_name: str
    impressions: int
    clicks: int
    spend: Decimal = Decimal("0")
    currency: str = ""


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # inclusive

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class Windows:
    as_of: date
    last_week: Window
    prior_weeks: Window

    @property
    def horizon(self) -> Window:
        """Every day the comparison reads."""
        return Window(self.prior_weeks.start, self.last_week.end)


def windows(as_of: date) -> Windows:
    """Last week: the 7 days before ``as_of``; the prior weeks: the 28 days before that."""
    last_end = as_of - timedelta(days=1)
    last_start = as_of - timedelta(days=LAST_WEEK_DAYS)
    prior_end = last_start - timedelta(days=1)
    prior_start = last_start - timedelta(days=PRIOR_DAYS)
    return Windows(as_of, Window(last_start, last_end), Window(prior_start, prior_end))


# --- Rounding ------------------------------------------------------------------------------


def rounded(value: Fraction | Decimal | int, decimals: int) -> float:
    """``value`` rounded half away from zero to ``decimals`` places, as a JSON number."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP))


def ctr_percent(clicks: int, impressions: int) -> float | None:
    """Pooled CTR in percent, 2 decimals; None without impressions."""
    if impressions <= 0:
        return None
    return rounded(Fraction(clicks, impressions) * 100, CTR_DECIMALS)


# --- Freshness -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    """Which days each platform with data in the 35 days has no row for."""

    windows: Windows
    platforms: tuple[str, ...]
    missing_last_week: dict[str, list[date]]
    missing_prior_weeks: dict[str, list[date]]

    @property
    def complete(self) -> bool:
        """Last week has a row for every day and every platform that has any data."""
        return bool(self.platforms) and not any(self.missing_last_week.values())

    def summary(self) -> str:
        last = self.windows.last_week
        span = f"{last.start.isoformat()} to {last.end.isoformat()}"
        if not self.platforms:
            horizon = self.windows.horizon
            return (
                f"There are no ad analytics for {horizon.start.isoformat()} to {horizon.end.isoformat()}: "
                "import last week's data and the four weeks before it, then run again."
            )
        if not self.complete:
            gaps = "; ".join(
                f"{platform} has no data for {_days(days)}"
                for platform, days in self.missing_last_week.items()
                if days
            )
            return f"Last week ({span}) is incomplete: {gaps}. Import the missing days, then run again."
        return f"Last week ({span}) is complete for {_listing(self.platforms)}."

    def prior_gaps(self) -> list[str]:
        """A sentence per platform whose prior weeks miss days (their CTR pools the days present)."""
        return [
            f"The prior weeks miss {len(days)} of {PRIOR_DAYS} days for {platform}; "
            "its CTRs pool the days present"
            for platform, days in self.missing_prior_weeks.items()
            if days
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "last_week": _window_dict(self.windows.last_week),
            "platforms": list(self.platforms),
            "missing_last_week": {
                p: [d.isoformat() for d in days] for p, days in self.missing_last_week.items()
            },
            "missing_prior_weeks": {
                p: [d.isoformat() for d in days] for p, days in self.missing_prior_weeks.items()
            },
            "complete": self.complete,
            "summary": self.summary(),
        }


def _days(days: list[date]) -> str:
    if len(days) > 3:
        return f"{len(days)} days ({days[0].isoformat()} to {days[-1].isoformat()})"
    return ", ".join(d.isoformat() for d in days)


def _listing(names: Iterable[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def freshness(rows: Iterable[DailyRow], *, as_of: date) -> Freshness:
    """Per platform that has a row in the 35 days before ``as_of``, the days without one."""
    found = windows(as_of)
    horizon = found.horizon
    seen: dict[str, set[date]] = defaultdict(set)
    for row in rows:
        if row.date in horizon:
            seen[row.platform].add(row.date)
    platforms = tuple(sorted(seen))
    return Freshness(
        windows=found,
        platforms=platforms,
        missing_last_week={
            p: [d for d in found.last_week.days() if d not in seen[p]] for p in platforms
        },
        missing_prior_weeks={
            p: [d for d in found.prior_weeks.days() if d not in seen[p]] for p in platforms
        },
    )


# --- Totals --------------------------------------------------------------------------------


@dataclass
class _Totals:
    impressions: int = 0
    clicks: int = 0
    spend: Decimal = Decimal("0")
    currencies: set[str] = field(default_factory=set)

    def add(self, row: DailyRow) -> None:
        self.impressions += row.impressions
        self.clicks += row.clicks
        self.spend += row.spend
        if row.currency:
            self.currencies.add(row.currency)

    @property
    def ctr(self) -> Fraction | None:
        return Fraction(self.clicks, self.impressions) if self.impressions > 0 else None


@dataclass
class _Ad:
    platform: str
    ad_id: str
    ad_name: str = ""
    campaign_id: str = ""
    newest: date | None = None
    last: _Totals = field(default_factory=_Totals)
    prior: _Totals = field(default_factory=_Totals)

    def named(self, row: DailyRow) -> None:
        if self.newest is None or row.date >= self.newest:
            self.newest, self.ad_name, self.campaign_id = row.date, row.ad_name, row.campaign_id

    def ident(self) -> dict[str, str]:
        return {"ad_id": self.ad_id, "ad_name": self.ad_name, "platform": self.platform}


def _window_ad(ad: _Ad, totals: _Totals) -> dict[str, Any]:
    currency = ", ".join(sorted(totals.currencies))
    mixed = len(totals.currencies) > 1
    return {
        **ad.ident(),
        "campaign_id": ad.campaign_id,
        "impressions": totals.impressions,
        "clicks": totals.clicks,
        "ctr": ctr_percent(totals.clicks, totals.impressions),
        # Spend in several currencies is not added up.
        "spend": None if mixed else rounded(totals.spend, SPEND_DECIMALS),
        "currency": f"mixed ({currency})" if mixed else currency,
    }


def _window_dict(window: Window) -> dict[str, Any]:
    return {
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "days": (window.end - window.start).days + 1,
    }


def _window_section(
    window: Window, ads: list[_Ad], totals_of, platforms: dict[str, _Totals]
) -> dict[str, Any]:
    return {
        **_window_dict(window),
        "platforms": [
            {
                "platform": name,
                "impressions": t.impressions,
                "clicks": t.clicks,
                "ctr": ctr_percent(t.clicks, t.impressions),
            }
            for name, t in sorted(platforms.items())
        ],
        "ads": [_window_ad(ad, totals_of(ad)) for ad in ads if totals_of(ad).impressions > 0],
    }


# --- The comparison ------------------------------------------------------------------------


def compare(
    rows: Iterable[DailyRow],
    *,
    as_of: date,
    drop_threshold_pct: Decimal | int | str = DEFAULT_DROP_THRESHOLD_PCT,
    min_impressions: int = DEFAULT_MIN_IMPRESSIONS,
) -> dict[str, Any]:
    """The computed table: both windows' totals per ad and platform, and the flagged, too small and new ads."""
    threshold = Decimal(str(drop_threshold_pct))
    if not Decimal(0) <= threshold <= Decimal(100):
        raise ValueError(f"The drop threshold must be between 0 and 100 percent, not {threshold}.")
    if min_impressions < 0:
        raise ValueError(f"The minimum of impressions cannot be negative ({min_impressions}).")
    found = windows(as_of)
    ads: dict[tuple[str, str], _Ad] = {}
    platforms_last: dict[str, _Totals] = defaultdict(_Totals)
    platforms_prior: dict[str, _Totals] = defaultdict(_Totals)
    for row in rows:
        if row.date in found.last_week:
            totals, platforms = "last", platforms_last
        elif row.date in found.prior_weeks:
            totals, platforms = "prior", platforms_prior
        else:
            continue
        ad = ads.setdefault((row.platform, row.ad_id), _Ad(row.platform, row.ad_id))
        ad.named(row)
        getattr(ad, totals).add(row)
        platforms[row.platform].add(row)
    ordered = [ads[key] for key in sorted(ads)]

    limit = Fraction(threshold) / 100
    flagged, too_small, new, compared = [], [], [], []
    for ad in ordered:
        last, prior = ad.last, ad.prior
        if last.impressions == 0 or last.impressions < min_impressions:
            too_small.append(
                {
                    **ad.ident(),
                    "impressions_last_week": last.impressions,
                    "reason": "no impressions last week"
                    if last.impressions == 0
                    else f"under the minimum of {min_impressions} impressions last week",
                }
            )
            continue
        if prior.impressions == 0:
            new.append(
                {
                    **ad.ident(),
                    "impressions_last_week": last.impressions,
                    "clicks_last_week": last.clicks,
                    "ctr_last_week": ctr_percent(last.clicks, last.impressions),
                }
            )
            continue
        change = last.ctr / prior.ctr - 1 if prior.ctr else None
        entry = {
            **ad.ident(),
            "ctr_last_week": ctr_percent(last.clicks, last.impressions),
            "ctr_prior_4_weeks": ctr_percent(prior.clicks, prior.impressions),
            "change_pct": rounded(change * 100, CHANGE_DECIMALS) if change is not None else None,
            "impressions_last_week": last.impressions,
            "impressions_prior_4_weeks": prior.impressions,
        }
        compared.append((change, entry))
        if change is not None and change < -limit:
            flagged.append((change, entry))

    def worst_first(pairs):
        return [e for _, e in sorted(pairs, key=lambda p: (p[0] is None, p[0] or 0))]

    flagged_entries = worst_first(flagged)
    return {
        "as_of": as_of.isoformat(),
        "rules": {
            "drop_threshold_pct": float(threshold),
            "min_impressions_last_week": min_impressions,
            "last_week_days": LAST_WEEK_DAYS,
            "prior_weeks": PRIOR_WEEKS,
            "prior_days": PRIOR_DAYS,
        },
        "last_week": _window_section(found.last_week, ordered, lambda ad: ad.last, platforms_last),
        "prior_weeks": {
            **_window_section(found.prior_weeks, ordered, lambda ad: ad.prior, platforms_prior),
            "weeks": PRIOR_WEEKS,
        },
        "flagged": flagged_entries,
        "too_small": too_small,
        "new": new,
        "compared": worst_first(compared),
        "counts": {
            "ads": len(ordered),
            "compared": len(compared),
            "flagged": len(flagged_entries),
            "too_small": len(too_small),
            "new": len(new),
        },
    }


# What the flagged list of the spec holds; the table's own entries add platform and impressions.
FLAGGED_FIELDS = ("ad_id", "ad_name", "ctr_last_week", "ctr_prior_4_weeks", "change_pct")


def prompt_view(result: dict[str, Any]) -> dict[str, Any]:
    """The part of the computed table a summary is written from (and checked against): the
    windows with their platform totals, the flagged, too small and new ads, the counts and rules.
    The per-ad window totals stay out: a small model's context has no room for them."""

    def window(section: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in section.items() if key != "ads"}

    return {
        "as_of": result["as_of"],
        "rules": result["rules"],
        "last_week": window(result["last_week"]),
        "prior_weeks": window(result["prior_weeks"]),
        "flagged": result["flagged"],
        "too_small": result["too_small"],
        "new": result["new"],
        "counts": result["counts"],
    }
