"""The demo email platform's signed events, posted over real HTTP to the measurement webhook."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from demo.models import OutboxMessage
from demo.platforms.email_events import EventRates, demo_public_key, events_post, simulated_events
from measurement import selectors
from measurement.models import EventWebhook
from tests.factories.measurement import sent_run
from tests.factories.workspace import workspace

KEY_NAME = "DEMO_EVENT_WEBHOOK_KEY"


def outbox(sent, n: int, *, variant: str = "admins") -> list[OutboxMessage]:
    sent_at = timezone.now() - timedelta(days=2)
    return [
        OutboxMessage.objects.create(
            platform="email",
            to=f"reader{i}@example.com",
            customer_id=f"cus_{variant}_{i}",
            variant_key=variant,
            subject="Your trial ends Friday",
            status="delivered",
            idempotency_key=sent.key,
            received_at=sent_at,
        )
        for i in range(n)
    ]


def test_the_same_messages_and_seed_give_the_same_events(db):
    ws = workspace()
    messages = outbox(sent_run(ws), 50)
    now = timezone.now()
    rates = EventRates(opened=0.5, clicked=0.2, unsubscribed=0.05)
    first = simulated_events(messages, rates=rates, seed=7, now=now)
    assert first == simulated_events(messages, rates=rates, seed=7, now=now)
    assert first != simulated_events(messages, rates=rates, seed=8, now=now)
    assert sum(e["event"] == "delivered" for e in first) == 50
    assert all(e["timestamp"] <= now.timestamp() for e in first)


def test_rates_out_of_order_are_refused():
    with pytest.raises(ValueError, match="cannot exceed the open rate"):
        EventRates(opened=0.1, clicked=0.2)


@pytest.mark.django_db(transaction=True)
def test_signed_events_post_to_the_webhook_and_a_replay_counts_nothing_twice(
    live_server, settings, monkeypatch
):
    port = urlsplit(live_server.url).port
    settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    settings.MARKETINGAI_SECRETS = [KEY_NAME]
    monkeypatch.setenv(KEY_NAME, demo_public_key())
    hook = EventWebhook.objects.create(name="Demo SendGrid", verification_key_name=KEY_NAME)
    ws = workspace()
    sent = sent_run(ws)
    messages = outbox(sent, 40) + outbox(sent, 40, variant="members")
    url = f"http://127.0.0.1:{port}{hook.get_absolute_url()}"
    rates = EventRates(opened=0.5, clicked=0.25, unsubscribed=0.05)
    worse = {"members": EventRates(opened=0.5, clicked=0.05, unsubscribed=0.2)}

    answers = events_post(messages=messages, url=url, rates=rates, rates_by_variant=worse, seed=3)
    stored = sum(a["stored"] for a in answers)
    again = events_post(messages=messages, url=url, rates=rates, rates_by_variant=worse, seed=3)

    assert stored == len(simulated_events(messages, rates=rates, rates_by_variant=worse, seed=3))
    assert sum(a["duplicates"] for a in again) == stored
    assert sum(a["stored"] for a in again) == 0
    totals = selectors.totals(run_ids=[sent.run.pk])
    assert totals.delivered == 80
    assert 0 < totals.clicked < totals.opened
    assert totals.unsubscribed > 0
