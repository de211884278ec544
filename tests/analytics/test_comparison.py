"""The comparison's rules, on rows built in memory: no database anywhere in this module."""

from __future__ import annotations

from datetime import date

import pytest

from analytics import comparison
from analytics.comparison import DailyRow
from tests.factories.analytics import AS_OF, ad_rows, days_before, story_rows, weeks


def flagged_ids(result) -> list[str]:
    return [entry["ad_id"] for entry in result["flagged"]]


def compare(rows, **kwargs):
    return comparison.compare(rows, as_of=AS_OF, **kwargs)


def entry(result, list_name: str, ad_id: str) -> dict:
    return next(e for e in result[list_name] if e["ad_id"] == ad_id)


def test_last_week_is_the_seven_days_before_the_run_date_and_the_prior_weeks_the_28_before():
    found = comparison.windows(date(2026, 11, 30))
    assert (found.last_week.start, found.last_week.end) == (date(2026, 11, 23), date(2026, 11, 29))
    assert (found.prior_weeks.start, found.prior_weeks.end) == (
        date(2026, 10, 26),
        date(2026, 11, 22),
    )
    assert len(found.last_week.days()) == 7 and len(found.prior_weeks.days()) == 28


def test_the_result_has_the_documented_sections_and_flagged_fields():
    result = compare(story_rows())
    assert {"last_week", "prior_weeks", "flagged", "too_small", "new"} <= result.keys()
    assert (
        result["last_week"]["start"] == "2026-11-23"
        and result["prior_weeks"]["end"] == "2026-11-22"
    )
    assert set(comparison.FLAGGED_FIELDS) <= set(result["flagged"][0])
    assert flagged_ids(result) == ["gg_ad_1", "li_ad_1"]
    assert [e["ad_id"] for e in result["too_small"]] == ["gg_ad_2"]
    assert [e["ad_id"] for e in result["new"]] == ["li_ad_3"]
    li_ad_1 = entry(result, "flagged", "li_ad_1")
    assert (li_ad_1["ctr_last_week"], li_ad_1["ctr_prior_4_weeks"], li_ad_1["change_pct"]) == (
        1.5,
        2.0,
        -25.0,
    )


def pooled_trap_rows() -> list[DailyRow]:
    """Prior weeks: 27 days at 1,000 impressions / 10 clicks and one day at 10 / 5 (50 %).
    The mean of daily CTRs is 2.75 %; pooled it is 275 / 27,010 = 1.02 %. Last week: 1 %."""
    prior_days = days_before(AS_OF, 35, 8)
    return [
        *ad_rows("trap", prior_days[:27], impressions=1000, clicks=10),
        *ad_rows("trap", prior_days[27:], impressions=10, clicks=5),
        *ad_rows("trap", days_before(AS_OF, 7), impressions=1000, clicks=10),
    ]


def test_ctr_is_pooled_over_the_window_not_a_mean_of_daily_ctrs():
    result = compare(pooled_trap_rows())
    trap = entry(result, "compared", "trap")
    # A mean of daily CTRs would say 1 % against 2.75 %: a 64 % drop, flagged.
    assert trap["ctr_prior_4_weeks"] == 1.02
    assert trap["change_pct"] == -1.8
    assert flagged_ids(result) == []


def test_a_drop_hidden_by_one_busy_day_is_still_flagged_when_pooled():
    """Last week: six quiet days at 10 % and one busy day at 0.5 %: the daily mean is 8.6 % (up
    from 2 %), pooled 1.04 % (down 48 %)."""
    last_days = days_before(AS_OF, 7)
    rows = [
        *weeks("busy", prior=(1000, 20), last=None),
        *ad_rows("busy", last_days[:6], impressions=100, clicks=10),
        *ad_rows("busy", last_days[6:], impressions=10000, clicks=50),
    ]
    result = compare(rows)
    assert flagged_ids(result) == ["busy"]
    assert entry(result, "flagged", "busy")["ctr_last_week"] == 1.04


@pytest.mark.parametrize(
    "last_clicks, threshold, flagged",
    [
        (85, "15", False),  # exactly -15 %: not "more than" the threshold
        (84, "15", True),  # -16 %
        (90, "10", False),  # exactly -10 % with a 10 % threshold
        (89, "10", True),
        (99, "0", True),  # any drop with a 0 % threshold
        (100, "0", False),
    ],
)
def test_an_ad_is_flagged_only_when_its_ctr_dropped_by_more_than_the_threshold(
    last_clicks, threshold, flagged
):
    rows = weeks("ad", prior=(1000, 100), last=(1000, last_clicks))
    assert bool(flagged_ids(compare(rows, drop_threshold_pct=threshold))) is flagged


@pytest.mark.parametrize(
    "daily_impressions, minimum, listed_as",
    [
        (142, 1000, "too_small"),  # 994 last week
        (143, 1000, "flagged"),  # 1,001 last week
        (143, 1002, "too_small"),
        (0, 0, "too_small"),  # no impressions at all cannot be judged, whatever the minimum
    ],
)
def test_an_ad_under_the_minimum_of_last_week_impressions_is_too_small_never_flagged(
    daily_impressions, minimum, listed_as
):
    rows = weeks("ad", prior=(1000, 100), last=(daily_impressions, 0))
    result = compare(rows, min_impressions=minimum)
    assert [e["ad_id"] for e in result[listed_as]] == ["ad"]
    if listed_as == "too_small":
        assert flagged_ids(result) == []


def test_no_impressions_last_week_says_so():
    result = compare(weeks("ad", prior=(1000, 10), last=None))
    assert entry(result, "too_small", "ad") == {
        "ad_id": "ad",
        "ad_name": "Ad ad",
        "platform": "linkedin",
        "impressions_last_week": 0,
        "reason": "no impressions last week",
    }


@pytest.mark.parametrize(
    "prior",
    [None, (0, 0)],
    ids=["no prior rows", "prior rows without impressions"],
)
def test_an_ad_without_prior_data_is_new(prior):
    result = compare(weeks("ad", prior=prior, last=(500, 5)))
    assert [e["ad_id"] for e in result["new"]] == ["ad"]
    assert entry(result, "new", "ad")["ctr_last_week"] == 1.0
    assert flagged_ids(result) == [] and result["counts"]["compared"] == 0


def test_too_small_comes_before_new():
    result = compare(weeks("ad", prior=None, last=(10, 1)))
    assert [e["ad_id"] for e in result["too_small"]] == ["ad"] and result["new"] == []


def test_a_prior_ctr_of_zero_leaves_the_change_undefined_and_never_flags():
    result = compare(weeks("ad", prior=(1000, 0), last=(1000, 0)))
    assert entry(result, "compared", "ad")["change_pct"] is None
    assert flagged_ids(result) == []


def test_rows_outside_the_35_days_and_on_the_run_date_are_not_read():
    rows = [
        *weeks("ad", prior=(1000, 100), last=(1000, 100)),
        *ad_rows("ad", [AS_OF, date(2026, 10, 25)], impressions=100000, clicks=0),
    ]
    result = compare(rows)
    assert entry(result, "compared", "ad")["change_pct"] == 0.0


def test_the_newest_row_names_the_ad():
    rows = [
        *ad_rows("ad", days_before(AS_OF, 35, 8), impressions=1000, clicks=10, ad_name="Old name"),
        *ad_rows("ad", days_before(AS_OF, 7), impressions=1000, clicks=10, ad_name="New name"),
    ]
    assert entry(compare(rows), "compared", "ad")["ad_name"] == "New name"


def test_an_ad_is_its_platform_and_id():
    rows = [
        *weeks("same", prior=(1000, 100), last=(1000, 50), platform="linkedin"),
        *weeks("same", prior=(1000, 100), last=(1000, 100), platform="google_ads"),
    ]
    result = compare(rows)
    assert [(e["platform"], e["change_pct"]) for e in result["compared"]] == [
        ("linkedin", -50.0),
        ("google_ads", 0.0),
    ]


def test_reported_numbers_round_half_away_from_zero():
    # 10 % -> 7.655 %: -23.45 %, reported -23.5 (banker's rounding would give -23.4).
    rows = weeks("ad", prior=(1000, 100), last=(20000, 1531))
    flagged = entry(compare(rows), "flagged", "ad")
    assert (flagged["ctr_last_week"], flagged["change_pct"]) == (7.66, -23.5)
    assert comparison.ctr_percent(1, 3) == 33.33


def test_decisions_use_exact_ratios_not_the_rounded_ctrs():
    # 33.33... % -> 28.33... %: exactly -15 %, not flagged; the rounded CTRs (33.33, 28.33) would say -15.0015 %.
    result = compare(weeks("ad", prior=(3000, 1000), last=(3000, 850)))
    compared = entry(result, "compared", "ad")
    assert (compared["ctr_prior_4_weeks"], compared["ctr_last_week"]) == (33.33, 28.33)
    assert compared["change_pct"] == -15.0 and flagged_ids(result) == []


def test_window_and_platform_totals():
    result = compare(story_rows())
    linkedin_last = next(p for p in result["last_week"]["platforms"] if p["platform"] == "linkedin")
    assert linkedin_last == {
        "platform": "linkedin",
        "impressions": 7 * 3500,
        "clicks": 7 * 40,
        "ctr": 1.14,
    }
    ad = next(a for a in result["prior_weeks"]["ads"] if a["ad_id"] == "li_ad_1")
    assert (ad["impressions"], ad["clicks"], ad["spend"], ad["currency"]) == (
        28000,
        560,
        280.0,
        "EUR",
    )


def test_spend_in_several_currencies_is_not_added_up():
    rows = [
        *ad_rows("ad", days_before(AS_OF, 7, 5), impressions=1000, clicks=10, currency="EUR"),
        *ad_rows("ad", days_before(AS_OF, 4), impressions=1000, clicks=10, currency="USD"),
    ]
    ad = compare(rows)["last_week"]["ads"][0]
    assert ad["spend"] is None and ad["currency"] == "mixed (EUR, USD)"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"drop_threshold_pct": "-1"}, "between 0 and 100"),
        ({"drop_threshold_pct": "101"}, "between 0 and 100"),
        ({"min_impressions": -1}, "cannot be negative"),
    ],
)
def test_settings_out_of_range_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compare([], **kwargs)


def test_the_prompt_view_leaves_out_the_per_ad_window_totals():
    result = compare(story_rows())
    view = comparison.prompt_view(result)
    assert "ads" not in view["last_week"] and "ads" not in view["prior_weeks"]
    assert view["flagged"] == result["flagged"] and "compared" not in view
    assert view["last_week"]["platforms"] == result["last_week"]["platforms"]


# --- Freshness -------------------------------------------------------------------------------


def test_last_week_is_complete_when_every_platform_with_data_has_every_day():
    found = comparison.freshness(story_rows(), as_of=AS_OF)
    assert found.complete
    assert found.summary() == (
        "Last week (2026-11-23 to 2026-11-29) is complete for google_ads and linkedin."
    )


def test_a_missing_day_of_one_platform_makes_last_week_incomplete():
    rows = [
        r for r in story_rows() if not (r.platform == "google_ads" and r.date == date(2026, 11, 29))
    ]
    found = comparison.freshness(rows, as_of=AS_OF)
    assert not found.complete
    assert found.missing_last_week == {"google_ads": [date(2026, 11, 29)], "linkedin": []}
    assert "google_ads has no data for 2026-11-29" in found.summary()


def test_a_platform_with_only_older_data_misses_all_of_last_week():
    rows = [
        *weeks("li", prior=(10, 1), last=(10, 1)),
        *weeks("gg", prior=(10, 1), last=None, platform="google_ads"),
    ]
    found = comparison.freshness(rows, as_of=AS_OF)
    assert len(found.missing_last_week["google_ads"]) == 7
    assert "google_ads has no data for 7 days (2026-11-23 to 2026-11-29)" in found.summary()


def test_no_data_at_all_is_not_complete():
    found = comparison.freshness([], as_of=AS_OF)
    assert not found.complete
    assert found.summary().startswith("There are no ad analytics for 2026-10-26 to 2026-11-29")


def test_gaps_in_the_prior_weeks_are_reported_but_do_not_stop():
    rows = [
        r for r in story_rows() if not (r.platform == "linkedin" and r.date == date(2026, 11, 1))
    ]
    found = comparison.freshness(rows, as_of=AS_OF)
    assert found.complete
    assert found.prior_gaps() == [
        "The prior weeks miss 1 of 28 days for linkedin; its CTRs pool the days present"
    ]
