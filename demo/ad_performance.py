"""Made-up daily ad analytics for the weekly ad performance review, and the demo endpoint serving them.

Twenty ads on two platforms, five weeks of days before the run date: last week and the four
weeks before it. Deterministic: each ad's daily figures come from a generator seeded by its id
and by the day's distance from the run date, so any run date gives the same story:

- four ads whose CTR drops well over 15 % last week (DEMO_DROPPING),
- one mild drop of about 9 % (not flagged) and one ad that improves,
- one ad that started last week (DEMO_NEW),
- one ad with too few impressions last week to judge (DEMO_TOO_SMALL), though its CTR halves.

The endpoint answers ``GET /demo-ads/<workflow>/daily.json[?as_of=YYYY-MM-DD]`` with
``{"data": {"rows": [...]}}`` in our column names, behind the demo CDP's bearer token
(MARKETINGAI_DEMO_CDP_TOKEN), only while the demo endpoints are on. ``demo/data/ad_performance.csv``
holds the same data for the fixed run date DEMO_CSV_AS_OF.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.http import Http404, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from analytics.comparison import LAST_WEEK_DAYS, PRIOR_DAYS, DailyRow
from demo.cdp import _authorized

WORKFLOW_SLUG = "weekly_ad_performance_review"
DEMO_RECORDS_PATH = "data.rows"
DEMO_CSV_AS_OF = date(2026, 11, 30)
CSV_COLUMNS = (
    "date",
    "platform",
    "campaign_id",
    "ad_id",
    "ad_name",
    "impressions",
    "clicks",
    "spend",
    "currency",
)


@dataclass(frozen=True)
class DemoAd:
    platform: str
    campaign_id: str
    ad_id: str
    ad_name: str
    daily_impressions: int
    ctr_pct: float  # the prior weeks' CTR, in percent
    change: float = 0.0  # last week's CTR relative to it: -0.3 is a 30 % drop
    cpm: float = 12.0  # spend per 1,000 impressions
    starts_last_week: bool = False


LI, GG = "linkedin", "google_ads"
DEMO_ADS: tuple[DemoAd, ...] = (
    DemoAd(
        LI, "li_cmp_trials", "li_ad_101", "Cycle-time dashboard (carousel)", 5200, 0.92, 0.02, 31
    ),
    DemoAd(LI, "li_cmp_trials", "li_ad_102", "Sprint forecast in one click", 4800, 0.81, -0.03, 29),
    DemoAd(
        LI,
        "li_cmp_trials",
        "li_ad_103",
        "Engineering managers: ship on time",
        6100,
        1.05,
        -0.31,
        33,
    ),
    DemoAd(LI, "li_cmp_trials", "li_ad_104", "Jira + GitHub in one board", 3900, 0.74, 0.04, 28),
    DemoAd(
        LI,
        "li_cmp_trials",
        "li_ad_105",
        "Customer story: 30 % faster reviews",
        4400,
        0.88,
        -0.09,
        30,
    ),
    DemoAd(
        LI,
        "li_cmp_retarget",
        "li_ad_106",
        "Your trial dashboards are waiting",
        2600,
        1.32,
        0.01,
        35,
    ),
    DemoAd(
        LI, "li_cmp_retarget", "li_ad_107", "Viewers are free on every plan", 2900, 1.18, -0.24, 34
    ),
    DemoAd(LI, "li_cmp_retarget", "li_ad_108", "Book an onboarding session", 2200, 0.97, 0.12, 32),
    DemoAd(LI, "li_cmp_retarget", "li_ad_109", "SSO for IT admins", 1800, 0.69, -0.02, 36),
    DemoAd(
        LI,
        "li_cmp_trials",
        "li_ad_110",
        "New: cycle-time alerts (video)",
        3300,
        1.10,
        0.0,
        31,
        True,
    ),
    DemoAd(
        GG,
        "gg_cmp_search",
        "gg_ad_201",
        "Project analytics for software teams",
        9100,
        3.40,
        0.01,
        14,
    ),
    DemoAd(GG, "gg_cmp_search", "gg_ad_202", "Sprint metrics dashboard", 7600, 3.05, -0.04, 13),
    DemoAd(GG, "gg_cmp_search", "gg_ad_203", "Cycle time tracking tool", 6800, 2.85, 0.03, 15),
    DemoAd(
        GG, "gg_cmp_search", "gg_ad_204", "Engineering KPIs in one place", 5900, 2.60, -0.36, 14
    ),
    DemoAd(GG, "gg_cmp_search", "gg_ad_205", "Jira reporting, simplified", 5400, 2.95, 0.02, 16),
    DemoAd(
        GG, "gg_cmp_display", "gg_ad_206", "Kestrel Boards banner (blue)", 12400, 0.42, -0.05, 4
    ),
    DemoAd(GG, "gg_cmp_display", "gg_ad_207", "Kestrel Boards banner (dark)", 11800, 0.39, 0.05, 4),
    DemoAd(GG, "gg_cmp_display", "gg_ad_208", "Free trial, no card (square)", 8300, 0.51, -0.27, 5),
    DemoAd(
        GG, "gg_cmp_search", "gg_ad_209", "Team dashboards for engineering", 4700, 2.70, -0.01, 15
    ),
    DemoAd(GG, "gg_cmp_display", "gg_ad_210", "Webinar replay (small test)", 95, 0.90, -0.5, 6),
)
DEMO_DROPPING = frozenset({"li_ad_103", "li_ad_107", "gg_ad_204", "gg_ad_208"})
DEMO_NEW = frozenset({"li_ad_110"})
DEMO_TOO_SMALL = frozenset({"gg_ad_210"})

WEEKDAY_FACTOR = (1.05, 1.1, 1.1, 1.05, 0.95, 0.65, 0.6)  # Monday..Sunday: quieter weekends


def demo_rows(as_of: date) -> list[DailyRow]:
    """Every ad's row for each of the 35 days before ``as_of`` (the new ad's for last week only)."""
    rows = []
    for ad in DEMO_ADS:
        rng = random.Random(ad.ad_id)
        for back in range(LAST_WEEK_DAYS + PRIOR_DAYS, 0, -1):
            day = as_of - timedelta(days=back)
            last_week = back <= LAST_WEEK_DAYS
            wobble_impressions, wobble_ctr = rng.uniform(-0.1, 0.1), rng.uniform(-0.04, 0.04)
            if ad.starts_last_week and not last_week:
                continue
            impressions = round(
                ad.daily_impressions * WEEKDAY_FACTOR[day.weekday()] * (1 + wobble_impressions)
            )
            ctr = ad.ctr_pct / 100 * (1 + (ad.change if last_week else 0.0)) * (1 + wobble_ctr)
            rows.append(
                DailyRow(
                    date=day,
                    platform=ad.platform,
                    campaign_id=ad.campaign_id,
                    ad_id=ad.ad_id,
                    ad_name=ad.ad_name,
                    impressions=impressions,
                    clicks=round(impressions * ctr),
                    spend=(Decimal(impressions) * Decimal(str(ad.cpm)) / 1000).quantize(
                        Decimal("0.01")
                    ),
                    currency="EUR",
                )
            )
    rows.sort(key=lambda r: (r.date, r.platform, r.ad_id))
    return rows


def demo_records(as_of: date) -> list[dict]:
    """The rows as JSON records in our column names (what the endpoint serves)."""
    return [
        {
            "date": row.date.isoformat(),
            "platform": row.platform,
            "campaign_id": row.campaign_id,
            "ad_id": row.ad_id,
            "ad_name": row.ad_name,
            "impressions": row.impressions,
            "clicks": row.clicks,
            "spend": str(row.spend),
            "currency": row.currency,
        }
        for row in demo_rows(as_of)
    ]


def demo_csv(as_of: date) -> str:
    """The rows as the CSV ``import_analytics`` reads."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(demo_records(as_of))
    return out.getvalue()


@require_GET
def daily_rows_view(request, workflow_slug: str):
    if not settings.MARKETINGAI_DEMO_CDP:
        raise Http404("The demo endpoints are off (MARKETINGAI_DEMO_CDP).")
    if not _authorized(request):
        response = JsonResponse({"error": "A valid bearer token is required."}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="demo-ads"'
        return response
    if workflow_slug != WORKFLOW_SLUG:
        return JsonResponse({"error": f"No demo analytics for {workflow_slug!r}."}, status=404)
    as_of = timezone.localdate()
    if request.GET.get("as_of"):
        try:
            as_of = date.fromisoformat(request.GET["as_of"])
        except ValueError:
            return JsonResponse({"error": "as_of must be a date, YYYY-MM-DD."}, status=400)
    rows = demo_records(as_of)
    return JsonResponse({"data": {"as_of": as_of.isoformat(), "count": len(rows), "rows": rows}})
