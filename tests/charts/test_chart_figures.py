"""The numbers each chart draws, computed from plain rows on known values (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from approvals.admin.turnaround import turnaround, turnaround_rows
from evals import pass_rates
from evals.admin.charts import draw_pass_rates
from workflows import chart_figures, charts
from workflows.admin.charts import risk_mix, runs_by_outcome

TODAY = date(2026, 12, 3)  # a Thursday


def test_periods_end_with_the_one_holding_today_oldest_first():
    assert chart_figures.periods(until=TODAY, count=3, period="day") == [
        date(2026, 12, 1),
        date(2026, 12, 2),
        date(2026, 12, 3),
    ]
    assert chart_figures.periods(until=TODAY, count=2, period="week") == [
        date(2026, 11, 23),
        date(2026, 11, 30),
    ]


def test_an_unknown_period_is_refused_with_a_sentence():
    with pytest.raises(ValueError, match="A period is one of day, week"):
        chart_figures.period_of(TODAY, "month")


def test_stacked_counts_place_each_row_in_its_period_and_keep_unknown_categories():
    counted = chart_figures.stacked_counts(
        [
            (date(2026, 12, 1), "approved", 2),
            (date(2026, 12, 3), "approved", 1),
            (date(2026, 12, 3), "rejected", 4),
            (date(2026, 12, 3), "something_new", 1),
            (date(2026, 11, 1), "approved", 9),  # before the first period: left out
        ],
        periods=chart_figures.periods(until=TODAY, count=3, period="day"),
        period="day",
        categories=["approved", "rejected"],
    )
    assert counted.categories == ["approved", "rejected", "something_new"]
    assert counted.counts == {
        "approved": [2, 0, 1],
        "rejected": [0, 0, 4],
        "something_new": [0, 0, 1],
    }
    assert counted.totals() == [2, 0, 6]


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        # NumPy: np.percentile(range(1, 11), [50, 90]) == [5.5, 9.1]
        (list(range(1, 11)), 0.5, 5.5),
        (list(range(1, 11)), 0.9, 9.1),
        ([7.0], 0.9, 7.0),
        ([1, 2, 3, 4], 0.5, 2.5),
        ([15, 20, 35, 40, 50], 0.9, 46.0),  # 35 + ... : rank 3.6 between 40 and 50
    ],
)
def test_quantile_interpolates_between_closest_ranks_like_numpy(values, q, expected):
    assert chart_figures.quantile(values, q) == pytest.approx(expected)


def test_runs_by_outcome_counts_per_day_and_drops_statuses_nobody_reached():
    rows = [
        (TODAY, "approved", 3),
        (TODAY, "rejected", 1),
        (TODAY - timedelta(days=1), "failed", 2),
        (TODAY - timedelta(days=40), "approved", 5),  # older than 30 days
    ]
    counted = runs_by_outcome(rows, today=TODAY)
    assert len(counted.periods) == 30 and counted.periods[-1] == TODAY
    assert counted.categories == ["approved", "rejected", "failed"]
    assert counted.counts["approved"][-1] == 3 and sum(counted.counts["approved"]) == 3
    assert counted.counts["failed"][-2] == 2


def test_risk_mix_counts_evaluated_runs_per_week_in_risk_order():
    rows = [
        (date(2026, 12, 1), "high", 1),
        (date(2026, 12, 3), "low", 4),
        (date(2026, 11, 24), "medium", 2),
        (date(2026, 12, 2), "", 7),  # not evaluated: not part of the mix
    ]
    counted = risk_mix(rows, today=TODAY, weeks=2)
    assert counted.categories == ["low", "medium", "high"]
    assert counted.counts == {"low": [0, 4], "medium": [2, 0], "high": [0, 1]}


def test_turnaround_is_median_and_p90_hours_per_week_of_the_decision():
    monday = datetime(2026, 11, 30, 9, tzinfo=UTC)
    pairs = [(monday, monday + timedelta(hours=h)) for h in (1, 2, 3, 4, 10)]
    pairs.append((monday - timedelta(days=7), monday - timedelta(days=7, hours=-6)))
    rows = turnaround_rows(pairs, tz=UTC)
    weeks = turnaround(rows, today=TODAY, weeks=2)
    assert [(w.start, w.count) for w in weeks] == [(date(2026, 11, 23), 1), (date(2026, 11, 30), 5)]
    assert weeks[0].median == pytest.approx(6) and weeks[0].p90 == pytest.approx(6)
    # 1, 2, 3, 4, 10: median 3; p90 at rank 3.6 = 4 + 0.6 * 6 = 7.6
    assert weeks[1].median == pytest.approx(3) and weeks[1].p90 == pytest.approx(7.6)


def test_pass_rates_follow_each_side_of_each_suite_in_time_order():
    def row(name, passed, total, side="candidate"):
        return {"name": name, "label": name.title(), side: {"passed": passed, "total": total}}

    early = datetime(2026, 11, 1, tzinfo=UTC)
    late = datetime(2026, 11, 8, tzinfo=UTC)
    series = pass_rates.pass_rates(
        [
            pass_rates.SuiteSide(
                late, "suite_2", "baseline", [row("grounding", 3, 4, side="baseline")]
            ),
            pass_rates.SuiteSide(
                early, "suite_1", "candidate", [row("json_validity", 5, 5), row("grounding", 1, 4)]
            ),
            pass_rates.SuiteSide(early, "suite_3", "candidate", [row("grounding", 0, 0)]),
        ]
    )
    assert [(s.name, s.points) for s in series] == [
        ("json_validity", [(early, "suite_1", 100.0)]),
        ("grounding", [(early, "suite_1", 25.0), (late, "suite_2", 75.0)]),
    ]


def test_thresholds_turn_the_promotion_criteria_into_pass_rate_floors():
    assert pass_rates.thresholds(
        {
            "min_json_validity_pct": 99.0,
            "max_unsupported_claim_pct": 0.5,
            "max_legal_failure_pct": None,
        }
    ) == {"json_validity": 99.0, "grounding": 99.5}


def test_the_pass_rate_chart_draws_each_rate_and_dashed_thresholds():
    early = datetime(2026, 11, 1, tzinfo=UTC)
    late = datetime(2026, 11, 8, tzinfo=UTC)
    series = [
        pass_rates.CheckRates(
            "json_validity", "JSON validity", [(early, "suite_1", 80.0), (late, "suite_2", 100.0)]
        ),
        pass_rates.CheckRates("tone", "Tone", [(late, "suite_2", 50.0)]),
    ]
    svg = draw_pass_rates(series, {"json_validity": 99.0}, title="Pass rates")
    marks = charts.values_drawn(svg)
    points = [
        (m["data-series"], m["data-x"], m["data-value"]) for m in marks if m["mark"] == "point"
    ]
    assert ("JSON validity", "2026-11-01 00:00", "80") in points
    assert ("Tone", "2026-11-08 00:00", "50") in points
    threshold = [m for m in marks if m["mark"] == "point" and "threshold" in m["data-series"]]
    assert [m["data-value"] for m in threshold] == ["99", "99"]
    dashed = [m for m in marks if m["mark"] == "line" and "stroke-dasharray" in m]
    assert [m["data-series"] for m in dashed] == ["JSON validity threshold"]
