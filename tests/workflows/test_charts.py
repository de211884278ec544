"""The SVG charts draw the numbers they are given, where they should, and escape every label."""

import xml.etree.ElementTree as ElementTree
from datetime import date

import pytest

from workflows.charts import Marker, Series, Stack, bar_chart, line_chart, values_drawn


def test_a_line_chart_draws_each_point_with_its_value_and_higher_values_higher():
    svg = line_chart(
        [Series("Click rate", [(date(2026, 1, 1), 2.0), (date(2026, 1, 2), 4.0)])],
        title="Clicks",
    )
    points = [m for m in values_drawn(svg) if m["mark"] == "point"]
    assert [(p["data-x"], p["data-value"]) for p in points] == [
        ("2026-01-01", "2"),
        ("2026-01-02", "4"),
    ]
    assert float(points[1]["cy"]) < float(points[0]["cy"])  # up is more
    assert float(points[1]["cx"]) > float(points[0]["cx"])


def test_a_fixed_scale_places_a_value_proportionally():
    svg = line_chart(
        [Series("Share", [(0, 0.0), (1, 25.0), (2, 100.0)], step=True)],
        title="Share",
        y_min=0,
        y_max=100,
        height=240,
    )
    cys = {p["data-value"]: float(p["cy"]) for p in values_drawn(svg) if p["mark"] == "point"}
    zero, full = cys["0"], cys["100"]
    assert cys["25"] == pytest.approx(zero - (zero - full) * 0.25)


def test_a_band_carries_its_interval_and_markers_their_labels():
    svg = line_chart(
        [Series("Rate", [(1, 0.5)], band=[(1, 0.25, 0.75)])],
        title="Rate",
        markers=[Marker(1, "Paused")],
    )
    marks = values_drawn(svg)
    interval = next(m for m in marks if m["mark"] == "interval")
    assert (interval["data-low"], interval["data-high"]) == ("0.25", "0.75")
    assert next(m for m in marks if m["mark"] == "marker")["data-label"] == "Paused"


def test_stacked_bars_carry_each_segment_and_stack_to_the_total():
    svg = bar_chart(
        ["Mon", "Tue"],
        [Stack("Approved", [3, 1]), Stack("Rejected", [1, 0])],
        title="Runs",
    )
    segments = [m for m in values_drawn(svg) if m["mark"] == "segment"]
    assert [(s["data-category"], s["data-series"], s["data-value"]) for s in segments] == [
        ("Mon", "Approved", "3"),
        ("Mon", "Rejected", "1"),
        ("Tue", "Approved", "1"),
    ]
    mon = [s for s in segments if s["data-category"] == "Mon"]
    tue_height = float(segments[2]["height"])
    assert sum(float(s["height"]) for s in mon) == pytest.approx(4 * tue_height, rel=0.01)


def test_labels_are_escaped_and_the_svg_parses():
    svg = line_chart([Series("<script>&", [(1, 1.0)])], title='"Quoted" <b>')
    ElementTree.fromstring(svg)
    assert "<script>" not in svg and "<b>" not in svg


def test_no_data_says_so_instead_of_drawing_an_empty_frame():
    assert "No data yet." in line_chart([Series("Rate", [])], title="Rate")
    assert "No data yet." in bar_chart(["Mon"], [Stack("Runs", [0])], title="Runs")


def test_a_stack_with_the_wrong_number_of_values_is_refused():
    with pytest.raises(ValueError, match="2 categories"):
        bar_chart(["Mon", "Tue"], [Stack("Runs", [1])], title="Runs")
