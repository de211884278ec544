"""What people read: the events list, the prompt version's metrics chart, the run report's columns."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evals.statistics import wilson_interval
from measurement.admin import metrics_chart
from measurement.models import EventWebhook
from measurement.selectors import Totals
from measurement.services import events_ingest
from tests.factories.measurement import event, sent_run
from tests.factories.workspace import workspace
from workflows import charts
from workflows.run_report import export_runs

DAY1 = datetime(2026, 11, 2, 9, 0, tzinfo=dt_timezone.utc)


# --- Wilson's interval against Newcombe (1998), Table I, method 3 ---------------------------


@pytest.mark.parametrize(
    "successes, trials, low, high",
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombes_published_values(successes, trials, low, high):
    got = wilson_interval(successes, trials, 0.95)
    assert (round(got[0], 4), round(got[1], 4)) == (low, high)


def test_wilson_interval_refuses_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(3, 2, 0.95)


# --- The chart ---------------------------------------------------------------------------


def test_the_chart_draws_cumulative_rates_with_their_intervals():
    daily = [
        (date(2026, 11, 2), Totals(delivered=100, clicked=10, converted=1)),
        (date(2026, 11, 3), Totals(delivered=100, clicked=30, unsubscribed=2)),
    ]
    drawn = charts.values_drawn(metrics_chart(daily))
    points = {
        (m["data-series"][:5], m["data-x"]): float(m["data-value"])
        for m in drawn
        if m["mark"] == "point"
    }
    assert points == {
        ("Click", "2026-11-02"): 0.1,
        ("Click", "2026-11-03"): 0.2,  # 40 of 200 people delivered so far
        ("Unsub", "2026-11-02"): 0.0,
        ("Unsub", "2026-11-03"): 0.01,
        ("Conve", "2026-11-02"): 0.01,
        ("Conve", "2026-11-03"): 0.005,
    }
    clicks_day2 = next(
        m
        for m in drawn
        if m["mark"] == "interval"
        and m["data-series"].startswith("Click")
        and m["data-x"] == "2026-11-03"
    )
    low, high = wilson_interval(40, 200, 0.95)
    assert (float(clicks_day2["data-low"]), float(clicks_day2["data-high"])) == pytest.approx(
        (low, high), abs=1e-5
    )


def test_days_before_the_first_delivery_draw_no_rate():
    daily = [(date(2026, 11, 1), Totals(clicked=3)), (date(2026, 11, 2), Totals(delivered=10))]
    drawn = charts.values_drawn(metrics_chart(daily))
    assert {m["data-x"] for m in drawn if m["mark"] == "point"} == {"2026-11-02"}


# --- Pages --------------------------------------------------------------------------------


@pytest.fixture
def ws(db):
    return workspace()


def add_events(sent, n: int, *, start: int = 0) -> None:
    events_ingest(
        events=[
            event(
                f"ev{start + i}-{kind}",
                kind,
                DAY1 + timedelta(hours=i),
                sent=sent,
                recipient=f"c{i}",
            )
            for i in range(n)
            for kind in ("delivered", "clicked")
        ],
        source="sendgrid",
    )


def test_the_events_list_keeps_a_constant_query_count(admin_client, ws):
    url = reverse("admin:measurement_campaignevent_changelist")
    add_events(sent_run(ws), 3)
    admin_client.get(url)  # the first page of a session loads caches
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    add_events(sent_run(ws), 40, start=100)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(url).status_code == 200
    assert len(many) == len(few)


def test_the_events_list_filters_unattributed_events(admin_client, ws):
    sent = sent_run(ws)
    events_ingest(
        events=[
            event("a", "clicked", DAY1, sent=sent),
            event("lost-1", "clicked", DAY1, key="mai_unknown"),
        ],
        source="sendgrid",
    )
    url = reverse("admin:measurement_campaignevent_changelist")
    page = admin_client.get(url, {"attributed": "no"}).content.decode()
    assert "lost-1" in page and ">a<" not in page


def test_the_prompt_version_page_shows_its_metrics_chart(admin_client, ws):
    sent = sent_run(ws)
    add_events(sent, 4)
    url = reverse("admin:workflows_promptversion_change", args=[ws["prompt"].pk])
    admin_client.get(url)  # the first page of a session loads caches
    with CaptureQueriesContext(connection) as few:
        page = admin_client.get(url).content.decode()
    assert "Campaign metrics" in page
    assert "People: 4 delivered, 0 opened, 4 clicked" in page
    assert "<svg" in page
    add_events(sent_run(ws), 30, start=100)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)
    assert len(many) == len(few)


def test_a_version_without_events_says_so(admin_client, ws):
    url = reverse("admin:workflows_promptversion_change", args=[ws["prompt"].pk])
    assert "No campaign events counted" in admin_client.get(url).content.decode()


def test_the_webhook_admin_shows_the_url_to_give_the_platform(admin_client, ws, settings):
    settings.MARKETINGAI_SECRETS = ["SENDGRID_WEBHOOK_KEY"]
    hook = EventWebhook.objects.create(
        name="SendGrid", verification_key_name="SENDGRID_WEBHOOK_KEY"
    )
    page = admin_client.get(reverse("admin:measurement_eventwebhook_change", args=[hook.pk]))
    assert hook.get_absolute_url() in page.content.decode()


def test_the_run_report_has_the_campaign_columns_per_run(ws):
    sent = sent_run(ws)
    quiet = sent_run(ws)
    events_ingest(
        events=[
            event("d1", "delivered", DAY1, sent=sent),
            event("d2", "delivered", DAY1, sent=sent, recipient="cus_2", variant="members"),
            event("c1", "clicked", DAY1, sent=sent),
            event("c2", "clicked", DAY1, sent=sent),
            event("u1", "unsubscribed", DAY1, sent=sent, recipient="cus_2", variant="members"),
            event("v1", "converted", DAY1, sent=sent),
        ],
        source="sendgrid",
    )
    stream = io.StringIO()
    export_runs(stream=stream, format="csv")
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    by_run = {row["run"]: row for row in rows}
    got = by_run[sent.run.run_id]
    assert (got["delivered"], got["clicked"], got["unsubscribed"], got["converted"]) == (
        "2",
        "1",
        "1",
        "1",
    )
    assert by_run[quiet.run.run_id]["delivered"] == ""
