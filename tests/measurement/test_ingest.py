"""events_ingest: stored once per source and id, attributed through publishing's ids, rolled up
as people and events, unsubscribes suppressed, and the listeners told once committed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from measurement import selectors
from measurement.models import CampaignEvent, DailyRollup, EventIngest
from measurement.services import EventIn, events_ingest
from publishing.models import SuppressedAddress
from tests.factories.measurement import event, sent_run
from tests.factories.workspace import workspace
from workflows import pipeline
from workflows.models import Run

pytestmark = pytest.mark.django_db

DAY1 = datetime(2026, 11, 2, 9, 0, tzinfo=dt_timezone.utc)
DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture
def ws():
    return workspace()


@pytest.fixture
def sent(ws):
    return sent_run(ws)


def test_an_event_sent_twice_is_stored_and_counted_once(sent):
    first = events_ingest(events=[event("e1", "delivered", DAY1, sent=sent)], source="sendgrid")
    again = events_ingest(
        events=[
            event("e1", "delivered", DAY1, sent=sent),
            event("e1", "delivered", DAY1, sent=sent),
        ],
        source="sendgrid",
    )
    assert (first.stored, first.duplicates) == (1, 0)
    assert (again.stored, again.duplicates) == (0, 2)
    assert CampaignEvent.objects.count() == 1
    assert selectors.totals(run_ids=[sent.run.pk]).delivered == 1


def test_the_same_id_from_another_source_is_another_event(sent):
    events_ingest(events=[event("e1", "converted", DAY1, sent=sent)], source="sendgrid")
    result = events_ingest(events=[event("e1", "converted", DAY1, sent=sent)], source="crm")
    assert result.stored == 1


def test_opens_count_people_once_and_every_event(sent):
    opens = [event(f"o{i}", "opened", DAY1 + timedelta(hours=i), sent=sent) for i in range(3)]
    opens.append(event("o9", "opened", DAY2, sent=sent))
    opens.append(event("o10", "opened", DAY2, sent=sent, recipient="cus_2"))
    events_ingest(events=opens, source="sendgrid")

    assert selectors.totals(run_ids=[sent.run.pk]).opened == 2
    rollups = {r.day: (r.opened, r.opened_events) for r in DailyRollup.objects.filter(run=sent.run)}
    assert rollups == {date(2026, 11, 2): (1, 3), date(2026, 11, 3): (1, 2)}
    assert selectors.daily_totals(run_ids=[sent.run.pk]) == [
        (date(2026, 11, 2), selectors.Totals(opened=1)),
        (date(2026, 11, 3), selectors.Totals(opened=1)),
    ]


def test_a_recipient_counts_once_per_variant_across_batches(sent):
    events_ingest(events=[event("c1", "clicked", DAY1, sent=sent)], source="sendgrid")
    events_ingest(events=[event("c2", "clicked", DAY2, sent=sent)], source="sendgrid")
    events_ingest(
        events=[event("c3", "clicked", DAY2, sent=sent, variant="members")], source="sendgrid"
    )
    assert selectors.totals(run_ids=[sent.run.pk]).clicked == 2
    assert selectors.totals(run_ids=[sent.run.pk], since=DAY2.date()).clicked == 1


def test_an_unknown_key_is_kept_and_counted_unattributed_not_rolled_up(sent):
    result = events_ingest(
        events=[
            event("u1", "clicked", DAY1, key="mai_unknown"),
            event("u2", "clicked", DAY1, sent=sent, variant="no-such-variant"),
        ],
        source="sendgrid",
    )
    assert (result.stored, result.unattributed) == (2, 2)
    assert CampaignEvent.objects.filter(run_variant__isnull=True).count() == 2
    assert not DailyRollup.objects.exists()
    assert EventIngest.objects.get(pk=result.ingest_id).unattributed_count == 2


def test_a_bad_event_is_refused_with_its_reason_and_the_rest_stored(sent):
    naive = datetime(2026, 11, 2, 9, 0)
    result = events_ingest(
        events=[
            event("ok", "delivered", DAY1, sent=sent),
            event("b1", "bounced", DAY1, sent=sent),
            EventIn(event_id="b2", kind="opened", occurred_at=naive),
            event("", "opened", DAY1, sent=sent),
        ],
        source="sendgrid",
    )
    assert result.stored == 1
    assert result.refused == [
        "event b1: kind 'bounced' is not one of delivered, opened, clicked, unsubscribed, "
        "complained, converted",
        "event b2: gives its time without a time zone",
        "event (no id): has no event id",
    ]
    assert EventIngest.objects.get(pk=result.ingest_id).refused_count == 3


def test_unsubscribes_and_complaints_join_the_suppression_list_without_storing_the_address(
    sent,
):
    events_ingest(
        events=[
            event("x1", "unsubscribed", DAY1, sent=sent, email="Ann@Example.com"),
            event("x2", "complained", DAY1, sent=sent, recipient="cus_2", email="bo@example.com"),
            event("x3", "clicked", DAY1, sent=sent, recipient="cus_3", email="cy@example.com"),
        ],
        source="sendgrid",
    )
    assert set(SuppressedAddress.objects.values_list("email", flat=True)) == {
        "ann@example.com",
        "bo@example.com",
    }
    stored = CampaignEvent.objects.values_list("recipient", "extra")
    assert "example.com" not in repr(list(stored))


def test_listeners_hear_the_prompt_versions_once_committed(
    sent, django_capture_on_commit_callbacks
):
    heard = []
    hook = pipeline.on_metrics_recorded(heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            events_ingest(events=[event("d1", "delivered", DAY1, sent=sent)], source="sendgrid")
            assert heard == []
    finally:
        pipeline._METRICS_HOOKS.remove(hook)
    assert heard == [
        pipeline.MetricsRecorded(
            prompt_version_ids=frozenset({sent.run.prompt_version_id}), source="sendgrid"
        )
    ]


def test_totals_take_a_values_list_queryset_of_runs(ws, sent):
    other = sent_run(ws)
    events_ingest(
        events=[
            event("a", "delivered", DAY1, sent=sent),
            event("b", "delivered", DAY1, sent=other),
            event("c", "converted", DAY2, sent=other),
        ],
        source="sendgrid",
    )

    assert selectors.totals(run_ids=Run.objects.values_list("pk", flat=True)) == selectors.Totals(
        delivered=2, converted=1
    )
    assert selectors.totals(run_ids=[other.run.pk], until=DAY1.date()) == selectors.Totals(
        delivered=1
    )


def test_a_repeat_in_a_later_chunk_of_the_same_batch_is_a_duplicate(sent, monkeypatch):
    from measurement import services

    monkeypatch.setattr(services, "CHUNK_SIZE", 2)
    result = events_ingest(
        events=[
            event("k1", "clicked", DAY1, sent=sent),
            event("k2", "clicked", DAY1, sent=sent, recipient="cus_2"),
            event("k1", "clicked", DAY1, sent=sent),
            event("k3", "clicked", DAY1, sent=sent, recipient="cus_3"),
        ],
        source="sendgrid",
    )
    assert (result.stored, result.duplicates) == (3, 1)
    assert selectors.totals(run_ids=[sent.run.pk]).clicked == 3
    assert DailyRollup.objects.get().clicked_events == 3
