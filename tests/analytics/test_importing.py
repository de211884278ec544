"""Parsing an analytics file: a good file gives rows, a bad one is rejected whole with row-level errors.
No database: the parser is pure."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from analytics.importing import parse_ad_records, parse_ad_rows

TODAY = date(2026, 11, 30)
HEADER = "date,platform,campaign_id,ad_id,ad_name,impressions,clicks,spend,currency\n"
GOOD_ROW = "2026-11-29,LinkedIn,cmp_1,li_ad_1,Boards carousel,1000,20,12.50,eur\n"


def parse(text: str, **kwargs):
    return parse_ad_rows(text.encode(), today=TODAY, filename="rows.csv", **kwargs)


def messages(result) -> list[str]:
    return [str(error) for error in result.errors]


def test_a_good_csv_gives_its_rows_with_platform_and_currency_normalised():
    result = parse(
        HEADER + GOOD_ROW + '2026-11-28,google_ads,cmp_2,gg_ad_1,"Search, brand",500,0,0,\n'
    )
    assert result.ok
    first, second = result.rows
    assert (first.date, first.platform, first.currency, first.spend) == (
        date(2026, 11, 29),
        "linkedin",
        "EUR",
        Decimal("12.50"),
    )
    assert (second.ad_name, second.clicks, second.currency) == ("Search, brand", 0, "")


def test_extra_columns_and_blank_lines_are_ignored_and_currency_is_optional():
    text = "date,platform,campaign_id,ad_id,ad_name,impressions,clicks,spend,reach\n\n"
    text += "2026-11-29,linkedin,c,a,Ad,10,1,1,999\n"
    result = parse(text)
    assert result.ok and result.rows[0].currency == ""


def test_a_bad_file_is_rejected_whole_with_an_error_per_bad_value():
    text = HEADER + GOOD_ROW
    text += "2026-11-31,linkedin,cmp_1,li_ad_2,Ad two,1000,20,1,EUR\n"  # row 3: no such day
    text += "2026-11-28,linkedin,cmp_1,li_ad_3,Ad three,-5,20,1,EUR\n"  # row 4
    text += (
        "2026-11-28,linkedin,cmp_1,li_ad_4,Ad four,100,200,1,EUR\n"  # row 5: clicks > impressions
    )
    text += "2026-12-01,linkedin,,li_ad_5,,100,1,1.23456,euro\n"  # row 6: four problems and more
    text += "2026-11-29,linkedin,cmp_1,li_ad_1,Again,1,1,1,EUR\n"  # row 7: duplicate of row 2
    result = parse(text)
    assert result.rows == []
    assert messages(result) == [
        "row 3, date: not a calendar date: '2026-11-31'",
        "row 4, impressions: must be a whole number of at least 0, got '-5'",
        "row 5, clicks: 200 clicks is more than 100 impressions",
        "row 6, campaign_id: is empty; every row needs its campaign_id",
        "row 6, ad_name: is empty; every row needs its ad_name",
        "row 6, currency: must be a 3-letter ISO 4217 code like EUR, got 'EURO'",
        "row 6, date: 2026-12-01 is in the future (today is 2026-11-30)",
        "row 6, spend: has more than 4 decimals: 1.23456",
        "row 7: 2026-11-29, linkedin, ad li_ad_1 is already in row 2",
    ]


def test_a_header_without_the_required_columns_is_refused_at_row_1():
    result = parse("date,platform,ad_id,impressions\n2026-11-29,linkedin,a,1\n")
    assert messages(result) == [
        "row 1: missing required columns campaign_id, ad_name, clicks, spend "
        "(the header has: date, platform, ad_id, impressions)"
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "The file is empty."),
        (HEADER, "The file has a header but no rows."),
        (HEADER + "2026/11/29,li,c,a,Ad,1,1,1,\n", "not a date in the form YYYY-MM-DD"),
        (
            HEADER + "2026-11-29,li,c,a,Ad,1.5,1,1,\n",
            "must be a whole number of at least 0, got '1.5'",
        ),
        (HEADER + "2026-11-29,li,c,a,Ad,1,1,-2,\n", "cannot be negative: -2"),
        (HEADER + "2026-11-29,li,c,a,Ad,1,1,abc,\n", "must be an amount like 123.45"),
        (HEADER + "2026-11-29,li,c,a,Ad,1,1,1,EUR,extra,\n", "check for an unquoted comma"),
    ],
)
def test_each_kind_of_bad_value_says_what_is_wrong(text, message):
    result = parse(text)
    assert not result.ok and message in " ".join(messages(result))


def test_a_json_file_of_rows_parses_like_the_csv():
    document = {
        "rows": [
            {
                "date": "2026-11-29",
                "platform": "linkedin",
                "campaign_id": "c",
                "ad_id": "a",
                "ad_name": "Ad",
                "impressions": 1000,
                "clicks": 20,
                "spend": 12.5,
            }
        ]
    }
    result = parse_ad_rows(json.dumps(document).encode(), today=TODAY, filename="rows.json")
    assert result.ok and result.rows[0].spend == Decimal("12.5")


def test_records_missing_a_column_or_not_objects_are_row_errors():
    result = parse_ad_records([["not", "an", "object"], {"date": "2026-11-29"}], today=TODAY)
    assert messages(result) == [
        "row 1: must be a JSON object, got list",
        "row 2: has no platform, campaign_id, ad_id, ad_name, impressions, clicks, spend",
    ]
